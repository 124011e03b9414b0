"""Tutoring: grading students' answers (check), showing the work (explain), solving backwards (solve)."""
