"""``nn.Transformer`` and its parts, traced into by ``from_torch`` (they live in torch.nn, so fx
would keep them as leaves: unknown rows).

Their ``forward`` first decides whether to take the fused "fast path" (inference, no grad,
batch-first...) with tests on tensor values and flags (``src.is_nested``, ``src.dim() == 3``)
that fx cannot trace. Without masks, the fast path and the slow path compute the same function:
:func:`plain_forward` gives the tracer the slow path written out from the module's own pieces,
the blocks torch's code runs (``_sa_block``, ``_mha_block``, ``_ff_block``), so every row is
the module's own submodule or op: self-attention (``nn.MultiheadAttention``: the engine's
attention), the decoder's cross-attention (a generic op with exact MACs), linears, layer norms,
the activation, dropouts and the residual adds, ``norm_first`` either way. With a mask or
``is_causal`` the module's own forward is traced (fx then fails on its checks, and
``torch.export`` reads the model instead).
"""
from __future__ import annotations

import functools


@functools.lru_cache(maxsize=None)
def _classes() -> dict:
    """torch.nn's transformer classes -> (how many tensors their forward takes first, its plain forward)."""
    from torch import nn

    return {nn.TransformerEncoderLayer: (1, _encoder_layer), nn.TransformerDecoderLayer: (2, _decoder_layer),
            nn.TransformerEncoder: (1, _stack), nn.TransformerDecoder: (2, _stack), nn.Transformer: (2, _transformer)}


def is_transformer(m) -> bool:
    """One of torch.nn's transformer classes (exactly: a subclass may change ``forward``)."""
    return type(m) in _classes()


def _encoder_layer(m, x):
    if m.norm_first:
        x = x + m._sa_block(m.norm1(x), None, None)
        return x + m._ff_block(m.norm2(x))
    x = m.norm1(x + m._sa_block(x, None, None))
    return m.norm2(x + m._ff_block(x))


def _decoder_layer(m, x, memory):
    if m.norm_first:
        x = x + m._sa_block(m.norm1(x), None, None)
        x = x + m._mha_block(m.norm2(x), memory, None, None)
        return x + m._ff_block(m.norm3(x))
    x = m.norm1(x + m._sa_block(x, None, None))
    x = m.norm2(x + m._mha_block(x, memory, None, None))
    return m.norm3(x + m._ff_block(x))


def _stack(m, x, *memory):
    for layer in m.layers:
        x = layer(x, *memory)
    return m.norm(x) if m.norm is not None else x


def _transformer(m, src, tgt):
    return m.decoder(tgt, m.encoder(src))


def plain_forward(m, args, kwargs):
    """The mask-free forward of a torch.nn transformer module for fx (a function of the call's
    tensors), or None: not such a module, or called with a mask or a causal flag."""
    known = _classes().get(type(m))
    if known is None:
        return None
    import inspect

    try:
        bound = inspect.signature(type(m).forward).bind(m, *args, **kwargs)
    except TypeError:
        return None
    n, fn = known
    values = list(bound.arguments.values())[1:]
    if len(values) < n or any(v is not None and v is not False for v in values[n:]):
        return None
    return lambda *a, **k: fn(m, *inspect.signature(type(m).forward).bind(m, *a, **k).args[1:n + 1])
