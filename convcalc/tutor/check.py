"""Grade answers to CNN exercises: forgiving parsing, strict grading, named mistakes.

The public face of ``convcalc check``; the work is split by job:

* :mod:`.answers`  -- the fields, parsing what students wrote, rounding rules, writing values back;
* :mod:`.sheets`   -- questions and YAML sheets, grading a sheet, answer keys;
* :mod:`.truth`    -- the engine's numbers for a question at the asked row;
* :mod:`.grading`  -- one answer against those numbers, and the graded report as data;
* :mod:`.slips`    -- the named slips, recomputed on the network with the mistake;
* :mod:`.worked`   -- worked solutions (formulas from :mod:`.explain`).

This package does not import rich or click (render/check.py and cli_check.py do that).
"""
from .answers import (COUNT_FIELDS, DEFAULT_ASK, FIELD_ALIASES, FIELDS, LAYOUTS, MEMORY_FIELDS, CheckError, Num,
                      WrittenFloat, field_name, given_text, key_value, parse_number, parse_rf, parse_shape, shape_str,
                      value_text)
from .grading import Graded, SheetResult, Verdict, compare, grade, grade_field, to_dict
from .sheets import (QUESTION_KEYS, SHEET_KEYS, Question, answer_key, build_question, fill_key, grade_sheet, is_sheet,
                     mlp, parse_input, read_sheet)
from .slips import SLIPS, find_slip, slip_values
from .truth import Ctx, analyze_question, quantity, select_rows
from .worked import work_lines

__all__ = ["COUNT_FIELDS", "DEFAULT_ASK", "FIELD_ALIASES", "FIELDS", "LAYOUTS", "MEMORY_FIELDS", "CheckError", "Num",
           "WrittenFloat", "field_name", "given_text", "key_value", "parse_number", "parse_rf", "parse_shape",
           "shape_str", "value_text", "Graded", "SheetResult", "Verdict", "compare", "grade", "grade_field", "to_dict",
           "QUESTION_KEYS", "SHEET_KEYS", "Question", "answer_key", "build_question", "fill_key", "grade_sheet",
           "is_sheet", "mlp", "parse_input", "read_sheet", "SLIPS", "find_slip", "slip_values", "Ctx",
           "analyze_question", "quantity", "select_rows", "work_lines"]
