"""Specs from strangers: clear spec errors, never tracebacks, hangs or code that does not import.

Every hostile spec file (``hostile_specs.CASES``) goes through every command; what
``open`` refuses, ``validate`` reports. Each defect seen has a named test below.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h5py
import hostile_specs
import pytest
from helpers import run_h5model
from hostile_specs import CASES
from specfiles import TEXT, namespace_doc, simple_namespace, write_simple, write_spec_file

import h5model
from h5model.cli.app import main
from h5model.codegen import models, registry
from h5model.spec import limits
from h5model.spec.version import newest, version_key
from h5model.validation import Severity


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("H5MODEL_CACHE_DIR", str(tmp_path / "cache"))


def open_problem(path: Path) -> h5model.H5ModelError | None:
    try:
        with h5model.open(path) as f:
            for _path, _model in f.models():
                pass
    except h5model.H5ModelError as exc:
        return exc
    return None


def spec_errors(path: Path) -> list[str]:
    report = h5model.validate(path)
    return [f"{i.rule} {i.hdf5_path}: {i.message}" for i in report.issues
            if i.severity is Severity.ERROR]


# -- every case, every command ------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_what_open_refuses_validate_reports(name: str, tmp_path: Path) -> None:
    path = CASES[name](tmp_path)
    problem = open_problem(path)
    found = spec_errors(path)
    if problem is not None:
        assert found, f"open refuses ({problem}) but validate reports no error"
        assert str(path) in str(problem)


@pytest.mark.parametrize("name", list(CASES))
def test_no_command_prints_a_traceback(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = CASES[name](tmp_path)
    for argv in (["show", str(path)], ["validate", str(path)],
                 ["graph", str(path), "-o", str(tmp_path / "g.json")],
                 ["generate", str(path), "-o", str(tmp_path / "out")]):
        started = time.monotonic()
        code = main(argv)  # an exception here is the traceback a user would see
        assert code in (0, 1, 2), argv
        assert time.monotonic() - started < 30, f"{argv} took too long"
        if code == 1 and argv[0] != "validate":
            assert str(path) in capsys.readouterr().err


def test_the_command_line_prints_no_traceback_on_hostile_specs(tmp_path: Path) -> None:
    """The same, as a user runs it: a child process per command, under a time limit."""
    for name in ("deep_inheritance", "inheritance_cycle", "newline_type_name",
                 "huge_version", "external_source"):
        path = CASES[name](tmp_path)
        for command in ("show", "validate", "generate"):
            extra = ["-o", str(tmp_path / "out")] if command == "generate" else []
            run = subprocess.run(
                [sys.executable, "-m", "h5model", command, str(path), *extra],
                capture_output=True, text=True, timeout=120,
            )
            assert run.returncode in (0, 1, 2), (name, command, run.stderr)
            assert "Traceback" not in run.stderr, (name, command, run.stderr)


# -- depth and cycles ---------------------------------------------------------------------


def test_a_deep_inheritance_chain_is_refused_quickly(tmp_path: Path) -> None:
    path = hostile_specs.deep_inheritance(tmp_path, depth=3000)
    started = time.monotonic()
    with pytest.raises(h5model.SpecError, match="more than 200 ancestors") as info:
        h5model.open(path)
    assert time.monotonic() - started < 20
    message = str(info.value)
    assert str(path) in message and "'lab'" in message and "type 'T" in message


def test_an_inheritance_chain_within_the_limit_reads(tmp_path: Path) -> None:
    path = hostile_specs.deep_inheritance(tmp_path, depth=limits.MAX_INHERITANCE_DEPTH)
    with h5model.open(path) as f:
        assert type(f.root).__name__ == f"T{limits.MAX_INHERITANCE_DEPTH - 1}"


@pytest.mark.parametrize("build", [hostile_specs.inheritance_cycle,
                                   hostile_specs.self_inheritance])
def test_a_type_that_inherits_from_itself_is_a_spec_error(build: Any, tmp_path: Path) -> None:
    path = build(tmp_path)
    with pytest.raises(h5model.SpecError, match="inherits from itself") as info:
        h5model.open(path)
    assert str(path) in str(info.value) and "'lab'" in str(info.value)
    assert any("inherits from itself" in e for e in spec_errors(path))


def test_nesting_beyond_the_limit_is_refused_and_within_it_reads(tmp_path: Path) -> None:
    deep = hostile_specs.nested_groups(tmp_path, depth=100)
    with pytest.raises(h5model.SpecError, match="nested more than") as info:
        h5model.open(deep)
    assert str(deep) in str(info.value) and "Deep" in str(info.value)
    (tmp_path / "ok").mkdir()
    fine = hostile_specs.nested_groups(tmp_path / "ok", depth=limits.MAX_NESTING_DEPTH - 2)
    with h5model.open(fine) as f:
        assert type(f.root).__name__ == "Deep"


def test_a_long_chain_of_types_holding_types_is_refused(tmp_path: Path) -> None:
    path = hostile_specs.part_chain(tmp_path, depth=1000)
    with pytest.raises(h5model.SpecError, match="reaches more than") as info:
        h5model.open(path)
    assert str(path) in str(info.value) and "'lab'" in str(info.value)
    (tmp_path / "ok").mkdir()
    fine = hostile_specs.part_chain(tmp_path / "ok", depth=limits.MAX_BUILD_DEPTH // 2)
    with h5model.open(fine) as f:
        assert type(f.root).__name__ == "P0"


def test_a_namespace_dependency_cycle_is_reported_by_validate(tmp_path: Path) -> None:
    path = hostile_specs.namespace_cycle(tmp_path)
    with pytest.raises(h5model.SpecError, match="cycle") as info:
        h5model.open(path)
    assert str(path) in str(info.value)
    assert h5model.validate(path).exit_code() == 1
    assert any("cycle: lab -> other -> lab" in e for e in spec_errors(path))


# -- size limits, for every storage form ----------------------------------------------------

LIMIT = 2000


def _with_source(path: Path, make: Any) -> Path:
    write_simple(path)
    with h5py.File(path, "r+") as f:
        where = "specifications/lab/1.0.0/lab.schema"
        del f[where]
        make(f, where, "x" * (LIMIT + 1))
    return path


STORAGE_FORMS: dict[str, Any] = {
    "variable-length text": lambda f, w, t: f.create_dataset(w, data=t, dtype=TEXT),
    "variable-length bytes": lambda f, w, t: f.create_dataset(
        w, data=t.encode(), dtype=h5py.string_dtype("ascii")),
    "fixed-length bytes": lambda f, w, t: f.create_dataset(w, data=t.encode()),
    "array of one string": lambda f, w, t: f.create_dataset(w, data=[t], dtype=TEXT),
    "array of strings": lambda f, w, t: f.create_dataset(w, data=["a", t], dtype=TEXT),
    "chunked variable-length text": lambda f, w, t: f.create_dataset(
        w, data=[t], dtype=TEXT, chunks=(1,), maxshape=(None,)),
    "bytes as numbers": lambda f, w, t: f.create_dataset(w, data=list(t.encode()),
                                                         dtype="uint8"),
}


@pytest.mark.parametrize("form", list(STORAGE_FORMS))
def test_spec_text_size_limit_holds_for_every_storage_form(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _with_source(tmp_path / "big.h5", STORAGE_FORMS[form])
    assert path.stat().st_size > LIMIT  # the bound by file size does not apply
    monkeypatch.setattr(limits, "MAX_SPEC_BYTES", LIMIT)
    read: list[str] = []
    original = h5py.Dataset.__getitem__

    def spy(self: h5py.Dataset, key: Any) -> Any:
        read.append(self.name)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    with pytest.raises(h5model.SpecError) as info:
        h5model.open(path)
    assert "lab.schema" in str(info.value) and str(path) in str(info.value)
    assert "/specifications/lab/1.0.0/lab.schema" not in read  # refused before reading
    assert any("lab.schema" in e for e in spec_errors(path))


def test_a_spec_text_within_the_limit_reads_whatever_its_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = simple_namespace()["1.0.0"]["lab.schema"]
    import json

    text = json.dumps(schema)
    path = write_simple(tmp_path / "fine.h5", value="v")
    with h5py.File(path, "r+") as f:
        del f["specifications/lab/1.0.0/lab.schema"]
        f.create_dataset("specifications/lab/1.0.0/lab.schema", data=[text], dtype=TEXT)
    monkeypatch.setattr(limits, "MAX_SPEC_BYTES", len(text) + 10)
    with h5model.open(path) as f:
        assert f.root.label == "v"


# -- generated code always imports ---------------------------------------------------------


def test_non_finite_values_generate_models_that_import(tmp_path: Path) -> None:
    path = hostile_specs.nan_fixed_value(tmp_path)
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 0
    for module in (tmp_path / "out").glob("*.py"):
        compile(module.read_text(), str(module), "exec")
    for source in (tmp_path / "cache").glob("m_*.py"):
        compile(source.read_text(), str(source), "exec")


def test_a_type_name_ending_in_a_newline_is_refused(tmp_path: Path) -> None:
    path = hostile_specs.newline_type_name(tmp_path)
    with pytest.raises(h5model.SpecError, match="not a plain Python identifier") as info:
        h5model.open(path)
    assert str(path) in str(info.value) and "'lab'" in str(info.value)
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 1
    assert not list((tmp_path / "out").glob("*.py")) if (tmp_path / "out").exists() else True
    assert h5model.validate(path).exit_code() == 1


def test_generated_source_is_compiled_before_it_is_cached_or_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = models.module_source

    def broken(*args: Any, **kwargs: Any) -> str:
        return real(*args, **kwargs).replace("class Thing(", "class Thing((", 1)

    monkeypatch.setattr(models, "module_source", broken)
    path = write_simple(tmp_path / "t.h5", doc="A thing no other test generates.")
    with pytest.raises(h5model.SpecError, match="not valid Python in the class of type 'Thing'"):
        h5model.open(path)
    assert not list((tmp_path / "cache").glob("m_*.py"))
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 1
    assert "'lab'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_cached_module_that_does_not_import_is_a_spec_error(tmp_path: Path) -> None:
    path = write_simple(tmp_path / "t.h5", doc="A thing whose cache is damaged.")
    with h5model.open(path):
        pass
    cached = next((tmp_path / "cache").glob("m_*.py"))
    cached.write_text("class (\n")
    registry._loaded.clear()
    with pytest.raises(h5model.SpecError, match="cannot be imported"):
        h5model.open(path)
    registry._loaded.clear()


# -- names -----------------------------------------------------------------------------------


def test_namespaces_that_fold_alike_stay_apart(tmp_path: Path) -> None:
    path = hostile_specs.colliding_namespaces(tmp_path)
    with h5model.open(path) as f:
        assert type(f.root).__name__ == "Second"
        assert f.root.label == "x"
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 0
    modules = sorted((tmp_path / "out").glob("*.py"))
    assert len(modules) == 2
    sources = {m.read_text() for m in modules}
    assert any("class First(" in s for s in sources) and any("class Second(" in s for s in sources)
    assert registry.module_variables(["a-b", "a_b"]) == {"a-b": "_ns_a_b", "a_b": "_ns_a_b_2"}


def test_a_non_ascii_namespace_gets_ascii_module_names(tmp_path: Path) -> None:
    path = hostile_specs.non_ascii_namespace(tmp_path)
    with h5model.open(path) as f:
        assert f.root.label == "hello"
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 0
    for module in (tmp_path / "out").iterdir():
        assert module.name.isascii()


def test_an_attribute_named_self_becomes_a_safe_field(tmp_path: Path) -> None:
    path = hostile_specs.attribute_named_self(tmp_path)
    with h5model.open(path) as f:
        fields = {spec.name: name for name, spec in type(f.root).h5_fields.items()}
        assert fields["self"] == "self_"
        assert f.root.self_ == "me"


def test_a_field_never_takes_the_name_of_a_type(tmp_path: Path) -> None:
    schema = {"groups": [
        {"data_type_def": "Other", "doc": "o"},
        {"data_type_def": "Thing", "doc": "t", "attributes": [
            {"name": "Other", "dtype": "text", "doc": "d", "default_value": "x",
             "required": False}],
         "groups": [{"data_type_inc": "Other", "doc": "o", "quantity": "*"}]},
    ]}
    path = write_spec_file(
        tmp_path / "t.h5",
        {"lab": {"1.0.0": {"namespace": namespace_doc("lab", "1.0.0", ["lab.schema"]),
                           "lab.schema": schema}}},
        {"namespace": "lab", "data_type": "Thing", "object_id": "0000-root"},
    )
    with h5model.open(path) as f:
        fields = {spec.name: name for name, spec in type(f.root).h5_fields.items()}
        assert fields["Other"] != "Other"
        assert getattr(f.root, fields["Other"]) == "x"


# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [hostile_specs.huge_fixed_value, hostile_specs.huge_quantity,
                                   hostile_specs.huge_shape])
def test_huge_integers_in_a_spec_are_spec_errors(build: Any, tmp_path: Path) -> None:
    path = build(tmp_path)
    with pytest.raises(h5model.SpecError, match="5000 digits") as info:
        h5model.open(path)
    assert str(path) in str(info.value) and "lab.schema" in str(info.value)
    assert h5model.validate(path).exit_code() == 1


def test_huge_version_numbers_compare_without_converting(tmp_path: Path) -> None:
    huge = "9" * 5000
    assert newest(["1.0.0", f"{huge}.0.0", "2.0.0"]) == f"{huge}.0.0"
    assert version_key("10.0.0") > version_key("9.0.0") > version_key("09.0.0-rc1")
    path = hostile_specs.huge_version(tmp_path)
    assert main(["generate", str(path), "-o", str(tmp_path / "out")]) == 0
    assert all(len(p.name) < 100 for p in (tmp_path / "out").iterdir())


def test_a_huge_quantity_written_as_text_is_a_spec_error(tmp_path: Path) -> None:
    path = write_spec_file(tmp_path / "q.h5", {"lab": {"1.0.0": {
        "namespace": namespace_doc("lab", "1.0.0", ["lab.schema"]),
        "lab.schema": {"groups": [{"data_type_def": "Thing", "doc": "t", "groups": [
            {"name": "g", "doc": "g", "quantity": "7" * 5000}]}]}}}},
        {"namespace": "lab", "data_type": "Thing", "object_id": "0000-root"})
    with pytest.raises(h5model.SpecError, match="quantity") as info:
        h5model.open(path)
    assert len(str(info.value)) < 500 and str(path) in str(info.value)


# -- links ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("build", [hostile_specs.self_linked_source,
                                   hostile_specs.external_source,
                                   hostile_specs.external_spec_group])
def test_spec_links_are_never_followed(build: Any, tmp_path: Path) -> None:
    path = build(tmp_path)
    with pytest.raises(h5model.SpecError, match="link") as info:
        h5model.open(path)
    assert str(path) in str(info.value)
    assert any("link" in e for e in spec_errors(path))


def test_spec_text_stored_in_another_file_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"secret" * 10)
    path = write_simple(tmp_path / "ext.h5")
    with h5py.File(path, "r+") as f:
        where = "specifications/lab/1.0.0/lab.schema"
        del f[where]
        f.create_dataset(where, shape=(60,), dtype="uint8",
                         external=[(str(outside), 0, 60)])
    with pytest.raises(h5model.SpecError, match="outside the file"):
        h5model.open(path)


# -- messages name the file ------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "words"), [
    (hostile_specs.empty_compound, "compound dtype has no fields"),
    (hostile_specs.unknown_dtype, "unknown dtype 'int128'"),
])
def test_dtype_errors_name_the_file_namespace_and_type(
    build: Any, words: str, tmp_path: Path
) -> None:
    path = build(tmp_path)
    with pytest.raises(h5model.SpecError, match=words) as info:
        h5model.open(path)
    message = str(info.value)
    assert str(path) in message and "/specifications/lab/1.0.0" in message and "Thing" in message


# -- nothing a spec says ever runs ----------------------------------------------------------------


def _injections(marker: Path) -> list[str]:
    code = f"__import__('os').system('touch {marker}')"
    return [
        code,
        f"x'); {code} #",
        f'x"); {code} #',
        f"Thing\n{code}",
        f"Thing(object):\n    pass\n{code}\nclass X",
        f"'''\n{code}\n'''",
        f'"""\n{code}\n"""',
        f"\\\n{code}",
        f"{{{code}}}",
        "\uff45\uff56\uff41\uff4c",  # fullwidth letters: NFKC-folds to 'eval'
        "ﬁeld",  # a ligature that folds to 'field'
        "Thing\u202e",  # right-to-left override
        "Th\u200bing",  # zero-width space
        "Thing\r",
    ]


@pytest.mark.parametrize("slot", ["type_name", "attr_name", "doc", "attr_doc", "default",
                                  "name"])
def test_hostile_names_and_docs_never_execute(slot: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for i, hostile in enumerate(_injections(marker)):
        options: dict[str, Any] = {slot: hostile}
        if slot == "default":
            options["value"] = None
        path = write_simple(tmp_path / f"{slot}{i}.h5", **options)
        try:
            with h5model.open(path):
                pass
        except h5model.H5ModelError:
            pass  # refusing is fine; running anything is not
        code = main(["generate", str(path), "-o", str(tmp_path / f"out{i}")])
        assert code in (0, 1)
        for module in [*(tmp_path / "cache").glob("m_*.py"),
                       *(tmp_path / f"out{i}").glob("*.py")]:
            compile(module.read_text(), str(module), "exec")
        assert not marker.exists(), (slot, hostile)
    for module in (tmp_path / "cache").glob("m_*.py"):
        spec = importlib.util.spec_from_file_location(f"_probe_{module.stem}", module)
        assert spec is not None and spec.loader is not None
        with contextlib.suppress(h5model.H5ModelError):  # needs its dependencies' keys
            spec.loader.exec_module(importlib.util.module_from_spec(spec))
        assert not marker.exists()


def test_a_refused_fixed_value_says_what_was_expected(nwb_files: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """Regression: ``h5model set .../data/unit furlongs`` printed the literal text
    ``expected the fixed value {expected!r}``."""
    path = Path(shutil.copy(nwb_files["ecephys"], tmp_path / "fixed.nwb"))
    done = run_h5model("set", path, "/acquisition/raw_voltage/data/unit", "furlongs")
    assert done.returncode == 1, done.stderr
    assert "expected the fixed value 'volts'" in done.stderr
    assert "{expected" not in done.stderr and "Traceback" not in done.stderr
