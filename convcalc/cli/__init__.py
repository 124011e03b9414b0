"""The command line. The only package that prints or sets exit codes.

Exit codes: 0 success, 1 a failed check or verification, 2 bad input (one line on
stderr, nothing on stdout). Each command is defined at module level in this package and
registered below by name: nothing is discovered at run time.
"""
from __future__ import annotations

import sys

import click

from ..errors import ConvcalcError
from . import check, compare, models, plot, quiz, solve, sweep, torch

COUNTING = ("MACs count one multiply plus one accumulate (conv and linear weights only; bias adds, "
            "norms, activations and pooling are not MACs). FLOPs = 2 x MACs.")


# -- the group: `convcalc MODEL` is `convcalc show MODEL` --------------------------------------------
class CLI(click.Group):
    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            close = typo_of(args[0], self.commands)
            if close:
                raise click.UsageError(f"no command {args[0]!r}; did you mean `{close}`?", ctx)
            args = ["show", *args]
        return super().parse_args(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(args, prog_name or "convcalc", complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("convcalc: aborted", err=True)
            rv = 1
        except click.ClickException as e:
            click.echo(f"convcalc: error: {e.format_message()}", err=True)
            rv = e.exit_code
        except ConvcalcError as e:
            click.echo(f"convcalc: error: {e}", err=True)
            rv = 2
        except RecursionError:
            click.echo("convcalc: error: expression too deep to handle", err=True)
            rv = 2
        rv = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(rv)
        return rv


def typo_of(word: str, commands) -> str:
    """The command ``word`` is a typo of, or "" when ``word`` names a model (a zoo name, a spec
    file, a one-liner: ``convcalc MODEL`` is the default command) or is close to no command."""
    import difflib

    from ..loader import is_spec
    from ..zoo import REGISTRY

    key = word.strip().lower()
    if is_spec(word) or any(k in REGISTRY for k in (key, key.replace("_", "-"), key.replace("-", "_"))):
        return ""
    close = difflib.get_close_matches(key, list(commands), n=1, cutoff=0.7)
    return close[0] if close else ""


@click.group(cls=CLI, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
             epilog="Counting: " + COUNTING)
@click.version_option(package_name="convcalc", prog_name="convcalc")
def cli():
    """Exact shapes, parameters, MACs, receptive fields and memory of convolutional networks.

    \b
      convcalc alexnet                     the layer table of a zoo model
      convcalc vgg16 --input 3x224x224 --batch 8 --dtype fp16
      convcalc list                        every model with its totals
      convcalc layer conv2d --input 3x32x32 --out 10 -k 5 -p 2
      convcalc "3x32x32 | conv 10 k3 p1 | relu | maxpool 2 | flatten | linear 10"   (or my_net.yaml)
        one-liner: SHAPE | KIND ARGS | ...; a bare number is out_channels / out_features / a pool's kernel;
        k3 s2 p1 d2 g2 = kernel, stride, padding, dilation, groups; nobias, ceil, NAME=VALUE
    """


COMMANDS = (models.show, models.verify_cmd, models.list_models, models.rf_cmd, models.layer, solve.solve,
            check.check, torch.from_torch_cmd, torch.export_cmd, plot.plot, quiz.quiz, compare.compare,
            sweep.sweep)
for command in COMMANDS:
    cli.add_command(command)


def main():  # console-script entry point
    cli.main(prog_name="convcalc")
