"""Problems of a rejected row whose value a formula stored without its value should give."""

from __future__ import annotations

import pytest

from gateway.errors import MappingError, Place, RowError
from gateway.ingest.uncalculated import name_uncalculated

TABLE = "ds.xlsx [6A1]"
PLACE = Place(file="ds.xlsx", sheet="6A1", row=4)


def missing(column: str, field: str) -> MappingError:
    return MappingError("mapping.required_missing", place=PLACE.with_(column=column, field=field),
                        field=field, column=column)


def test_missing_value_named_as_formula() -> None:
    error = name_uncalculated(missing("Họ và tên", "full_name"), {"Họ và tên": "F4"}, TABLE)

    assert error.key == "mapping.formula_not_calculated"
    assert error.params == {"field": "full_name", "column": "Họ và tên", "cell": "F4",
                            "table": TABLE}
    assert (error.place.row, error.place.column, error.place.field) == (4, "Họ và tên", "full_name")


@pytest.mark.parametrize(("column", "columns", "found"), [
    pytest.param(None, "Họ đệm + Tên, Họ và tên", "Tên", id="joined-in-list"),
    pytest.param(None, "Họ và tên", "Họ và tên", id="listed"),
    pytest.param("Họ đệm + Tên", None, "Họ đệm", id="joined-column"),
    pytest.param(None, "Số nhà, đường, Họ và tên", "Họ và tên", id="comma-in-other-name"),
])
def test_built_field_named_by_its_column(column: str | None, columns: str | None, found: str) -> None:
    params = {"field": "full_name"} | ({"columns": columns} if columns else {})
    problem = MappingError("mapping.required_missing_joined",
                           place=PLACE.with_(column=column, field="full_name"), **params)

    error = name_uncalculated(problem, {found: "C4"}, TABLE)

    assert error.key == "mapping.formula_not_calculated"
    assert error.params["column"] == found


def test_part_of_a_name_not_matched() -> None:
    problem = missing("Họ và tên đệm", "family_name")

    assert name_uncalculated(problem, {"Họ và tên": "C4"}, TABLE) is problem


def test_other_problems_kept_in_order() -> None:
    first = missing("Họ và tên", "full_name")
    date = MappingError("mapping.date_invalid", place=PLACE.with_(column="Ngày sinh",
                                                                   field="birth_date"))
    given = missing("Họ và tên", "given_name")
    first.others = (date, given)

    error = name_uncalculated(first, {"Họ và tên": "C4"}, TABLE)

    assert [problem.key for problem in (error, *error.others)] == [
        "mapping.formula_not_calculated", "mapping.date_invalid", "mapping.formula_not_calculated",
    ]
    assert error.others[0] is date


def test_problem_without_field_kept() -> None:
    problem = RowError("table.cell_too_long", place=PLACE.with_(column="Họ và tên"),
                       column="Họ và tên")

    assert name_uncalculated(problem, {"Họ và tên": "C4"}, TABLE) is problem


def test_row_without_formulas_unchanged() -> None:
    problem = missing("Họ và tên", "full_name")

    assert name_uncalculated(problem, None, TABLE) is problem
    assert name_uncalculated(problem, {"Ngày sinh": "D4"}, TABLE) is problem
