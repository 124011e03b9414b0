"""The helper classes an exported file defines when torch.nn has no module for a layer kind
(or for the flow of a block). ``HELPERS`` maps a helper name to its source; a writer adds the
name to its ``helpers`` set to have the class written into the file. A kind defined outside
convcalc may add its own helper here."""

HELPERS = {
    "block": '''class Block(nn.Module):
    """Layers run in the order given by `flow`: a name calls that layer; ("add" | "mul" | "cat",
    [branch, ...], dim) runs every branch (a list of steps; [] is the input itself) on the same
    input and adds, multiplies or concatenates the results."""

    def __init__(self, layers, flow):
        super().__init__()
        for name, layer in layers:
            self.add_module(name, layer)
        self.flow = flow

    def forward(self, x):
        return self.run(self.flow, x)

    def run(self, flow, x):
        for step in flow:
            if isinstance(step, str):
                x = getattr(self, step)(x)
                continue
            op, branches, dim = step[:3]
            outs = [self.run(branch, x) for branch in branches]
            if len(step) > 3:  # a named merge module
                x = getattr(self, step[3])(*outs)
            elif op == "cat":
                x = torch.cat(outs, dim)
            else:
                x = outs[0]
                for y in outs[1:]:
                    x = x + y if op == "add" else x * y
        return x
''',
    "merge": '''class Merge(nn.Module):
    """A named merge of branch outputs: add, mul or cat along `dim`."""
    convcalc_kind = "merge"

    def __init__(self, op, dim=1):
        super().__init__()
        self.op, self.dim = op, dim

    def forward(self, *xs):
        if self.op == "cat":
            return torch.cat(xs, self.dim)
        y = xs[0]
        for x in xs[1:]:
            y = y + x if self.op == "add" else y * x
        return y
''',
    "layerscale": '''class LayerScale(nn.Module):
    """A learnable per-channel scale."""
    convcalc_kind = "layerscale"

    def __init__(self, channels, init=1e-6):
        super().__init__()
        self.convcalc_args = {"channels": channels, "init": init}
        self.gamma = nn.Parameter(torch.full((channels, 1, 1), float(init)))  # (timm's name)

    def forward(self, x):
        return x * self.gamma
''',
    "layernorm2d": '''class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N, C, H, W tensor."""
    convcalc_kind = "layernorm2d"

    def __init__(self, num_channels, eps=1e-6, elementwise_affine=True):
        super().__init__(num_channels, eps=eps, elementwise_affine=elementwise_affine)
        self.convcalc_args = {"num_channels": num_channels, "eps": eps, "elementwise_affine": elementwise_affine}

    def forward(self, x):
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
''',
    "channelslice": '''class ChannelSlice(nn.Module):
    """Channels start:stop of the input."""
    convcalc_kind = "channelslice"

    def __init__(self, start, stop):
        super().__init__()
        self.convcalc_args = {"start": start, "stop": stop}

    def forward(self, x):
        return x[:, self.convcalc_args["start"]:self.convcalc_args["stop"]]
''',
    "permute": '''class Permute(nn.Module):
    """x.permute(*dims)."""
    convcalc_kind = "permute"

    def __init__(self, dims):
        super().__init__()
        self.convcalc_args = {"dims": tuple(dims)}

    def forward(self, x):
        return x.permute(*self.convcalc_args["dims"])
''',
    "stochasticdepth": '''class StochasticDepth(nn.Module):
    """Drops the whole branch while training (torchvision.ops.StochasticDepth); identity here."""
    convcalc_kind = "stochasticdepth"

    def __init__(self, p, mode="row"):
        super().__init__()
        self.convcalc_args = {"p": p, "mode": mode}

    def forward(self, x):
        return x
''',
    "centercrop": '''class CenterCrop(nn.Module):
    """Cut the spatial axes around the centre (U-Net's copy and crop)."""
    convcalc_kind = "centercrop"

    def __init__(self, size=None, border=None):
        super().__init__()
        self.convcalc_args = {"size": size, "border": border}

    def forward(self, x):
        size, border = self.convcalc_args["size"], self.convcalc_args["border"]
        index = [slice(None), slice(None)]
        for i, n in enumerate(x.shape[2:]):
            want = (size[i] if isinstance(size, (list, tuple)) else size) if size is not None else \\
                n - 2 * (border[i] if isinstance(border, (list, tuple)) else border)
            start = (n - want) // 2
            index.append(slice(start, start + want))
        return x[tuple(index)]
''',
}
