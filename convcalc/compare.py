"""Several models side by side: the figures ``convcalc compare`` puts in one table.

For each model: its totals, the receptive field of its last feature map, the smallest square
input it accepts (:func:`convcalc.solve.min_input`) and its stages (the rows of
``report.collapse(1)``: a ResNet's ``layer1`` ... ``layer4``) with their parameters and MACs.
Engine level: numbers only, no printing.
"""
from __future__ import annotations

from dataclasses import dataclass

from .conventions import CONVENTIONS, count


@dataclass(frozen=True)
class Entry:
    name: str          # what the user typed (a zoo name, a spec file, a one-liner)
    report: object     # the Report at the model's input (or --input)
    min_input: object  # the smallest square input side it accepts (int), or None (no square input)
    stages: tuple      # (stage name, params, MACs) per --depth 1 group

    @property
    def rf(self):
        return last_spatial_rf(self.report)


def last_spatial_rf(report):
    """The field of the last feature map still spatial (after a squeeze-and-excitation gate it is
    the whole image), as ``convcalc list`` reports it."""
    return next((row.rf for row in reversed(report.rows)
                 if row.rf and len(row.output) > 1 and any(d != 1 for d in row.output[1:])), None)


def entry(name: str, model, report) -> Entry:
    from .errors import ConvcalcError
    from .tutor.solve import min_input

    try:
        smallest = min_input(model) if len(getattr(model, "input", ())) > 1 else None
    except ConvcalcError:
        smallest = None
    stages = tuple((r.name, r.params, r.macs) for r in report.collapse(1).rows)
    return Entry(name, report, smallest, stages)


def stage_names(entries) -> list:
    """Every stage name, in the order they first appear."""
    seen = []
    for e in entries:
        for name, _, _ in e.stages:
            if name not in seen:
                seen.append(name)
    return seen


def conventions(report, names=CONVENTIONS) -> dict:
    """The model's total under each tool's convention."""
    return {n: count(report, n) for n in names}
