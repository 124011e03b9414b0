"""`convcalc quiz`: write an exercise sheet and its answer key (YAML for `check`, Markdown, LaTeX)."""
from __future__ import annotations

import click

TOPIC_HELP = "output-size|params|macs|rf|padding|transposed|pooling|memory|backward|mixed"


@click.command("quiz")
@click.option("--topic", default="mixed", show_default=True, metavar="TOPIC", help=TOPIC_HELP + ".")
@click.option("--count", type=int, default=10, show_default=True, help="Number of questions (1-1000).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="The same seed gives byte-identical files.")
@click.option("--layout", type=click.Choice(["chw", "hwc"]), default="chw", show_default=True,
              help="How shapes are written: CxHxW or HxWxC.")
@click.option("--difficulty", type=int, default=1, show_default=True,
              help="1: one conv or pool, stride 1; 2: strides, padding, dilation, remainders; "
                   "3: groups, transposed convs, small networks.")
@click.option("--out", "out_dir", required=True, metavar="DIR",
              help="Directory for quiz.{yaml,md,tex} (no answers) and key.{yaml,md,tex}.")
def quiz(topic, count, seed, layout, difficulty, out_dir):
    """Generate exercises with their answer key.

    \b
      convcalc quiz --topic output-size --count 10 --seed 1 --layout hwc --out week7
      convcalc check week7/key.yaml        the key grades all right
      convcalc check week7/quiz.yaml       a student's filled-in sheet, graded

    Every question is a layer configuration the engine accepts; the key's worked solutions
    show each formula with the numbers substituted (and the exact quotient before a floor).
    """
    from .. import quiz as qz

    made = qz.make_quiz(topic, count, seed, layout, difficulty)
    paths = qz.write_quiz(made, out_dir)
    click.echo(f"{len(made.questions)} questions: " + ", ".join(paths))
    return 0
