"""What every command shares: ``--model`` specs are read one way, each mistake one line."""

from __future__ import annotations

import json

import pytest
import typer

from cnn_doctor.cli.app import load_builder


def test_a_model_spec_names_the_function_it_loads():
    assert load_builder("json:dumps") is json.dumps


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nocolon", "expected package.module:function"),
        ("no_such_module_xyz:build", "cannot import 'no_such_module_xyz'"),
        ("json:no_such_function", "json has no function 'no_such_function'"),
        ("json:__doc__", "json has no function '__doc__'"),  # there, but not callable
    ],
)
def test_a_bad_model_spec_is_one_line_with_exit_code_2(spec, message, capsys):
    with pytest.raises(typer.Exit) as stopped:
        load_builder(spec)
    assert stopped.value.exit_code == 2
    err = capsys.readouterr().err
    assert f"--model {spec!r}: " in err and message in err
    assert len(err.strip().splitlines()) == 1
