"""Which departments the run command's reference simulators take (HOUSING_SIMULATED_DEPARTMENTS
or --departments): all, none, or the named ones; a code the city does not have is refused."""

from __future__ import annotations

import pytest

from simulators.departments.__main__ import SELECTION_ENV_VAR, main, parse, simulated

CITY = ["public_security", "civil_affairs", "tax", "bank"]


@pytest.mark.parametrize("selection", ["", "all", " ALL "])
def test_unset_or_all_is_every_department_of_the_city(selection: str) -> None:
    assert simulated(selection, CITY) == CITY


def test_none_is_no_department() -> None:
    assert simulated("none", CITY) == []


def test_a_list_is_those_departments_once_each_in_the_order_given() -> None:
    assert simulated("tax, civil_affairs,tax", CITY) == ["tax", "civil_affairs"]


@pytest.mark.parametrize(("selection", "named"), [("tax,taxes", "taxes"), (",", "','")])
def test_an_unknown_code_is_refused_naming_it(selection: str, named: str) -> None:
    with pytest.raises(ValueError, match=f"unknown department\\(s\\) {named}"):
        simulated(selection, CITY)


def test_the_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SELECTION_ENV_VAR, raising=False)
    monkeypatch.delenv("HOUSING_SIMULATOR_DEPARTMENTS", raising=False)
    assert parse([]).departments == "all"
    monkeypatch.setenv("HOUSING_SIMULATOR_DEPARTMENTS", "bank")  # the older name
    assert parse([]).departments == "bank"
    monkeypatch.setenv(SELECTION_ENV_VAR, "none")
    assert parse([]).departments == "none"
    assert parse(["--departments", "tax"]).departments == "tax"


async def test_the_simulators_do_not_start_with_a_code_the_city_lacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert await main(["--departments", "tax,taxes"]) == 2
    assert "unknown department(s) taxes" in capsys.readouterr().err
