"""Generation: committed modules do not drift, caching is by content, specs cannot inject code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pynwb_reference import reference_specs
from regen import LANGUAGE_MODULE, language_source
from specfiles import namespace_doc, simple_namespace, write_simple, write_spec_file

import h5model
from h5model.codegen import registry

GENERATED = Path(__file__).resolve().parents[1] / "generated"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("H5MODEL_CACHE_DIR", str(tmp_path / "cache"))


def test_spec_language_module_is_up_to_date() -> None:
    assert LANGUAGE_MODULE.read_text() == language_source()


def test_committed_modules_regenerate_byte_identical(tmp_path: Path) -> None:
    written = registry.write_committed(reference_specs(), tmp_path / "out")
    assert {p.name for p in written} >= {
        "core_2_11_0.py",
        "hdmf_common_1_10_0.py",
        "hdmf_experimental_0_6_0.py",
        "index.json",
    }
    for path in written:
        committed = GENERATED / path.name
        assert committed.exists(), f"{path.name} is not committed under generated/"
        assert committed.read_bytes() == path.read_bytes(), f"generated/{path.name} drifted"


def test_pynwb_files_use_committed_modules(nwb_files: dict[str, Path], tmp_path: Path) -> None:
    with h5model.open(nwb_files["minimal"]) as f:
        assert type(f.root).__module__ == "h5model._generated.core_2_11_0"
    assert not list((tmp_path / "cache").glob("*.py"))  # nothing had to be generated


def test_same_name_and_version_with_different_specs_do_not_share_models(tmp_path: Path) -> None:
    text = write_simple(tmp_path / "a.h5", attr_dtype="text", value="seven")
    number = write_simple(tmp_path / "b.h5", attr_dtype="int32", value=7)
    with h5model.open(text) as a, h5model.open(number) as b:
        assert type(a.root) is not type(b.root)
        assert a.root.label == "seven"
        assert b.root.label == 7
        assert type(a.root).__module__ != type(b.root).__module__


def test_a_file_whose_value_does_not_fit_its_spec_is_refused(tmp_path: Path) -> None:
    path = write_simple(tmp_path / "bad.h5", attr_dtype="int32", value="not a number")
    with pytest.raises(h5model.ModelError) as info:
        h5model.open(path)
    assert "label" in str(info.value)
    assert str(path) in str(info.value)


def test_cached_models_are_reused(tmp_path: Path) -> None:
    path = write_simple(tmp_path / "a.h5", doc="A thing cached once.")
    with h5model.open(path):
        pass
    cached = next((tmp_path / "cache").glob("m_*.py"))
    mtime = cached.stat().st_mtime_ns
    with h5model.open(path):
        pass
    assert cached.stat().st_mtime_ns == mtime


# -- hostile specs -----------------------------------------------------------------------

SENTINEL_CODE = "__import__('pathlib').Path({path!r}).write_text('pwned')"


def _hostile_strings(sentinel: Path) -> list[str]:
    code = SENTINEL_CODE.format(path=str(sentinel))
    return [
        f'"""\n{code}\n"""',
        f"'''\n{code}\n'''",
        f"\\\n{code}",
        f"x\n    {code}\n",
        f'"); {code}; ("',
        f"{{{code}}}",
    ]


def test_doc_strings_and_defaults_stay_data(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned.txt"
    for i, hostile in enumerate(_hostile_strings(sentinel)):
        path = write_simple(
            tmp_path / f"doc{i}.h5", doc=hostile, attr_doc=hostile, default=hostile, value=None
        )
        with h5model.open(path) as f:
            cls = type(f.root)
            assert cls.__doc__ == hostile
            assert f.root.label == hostile  # the default value, verbatim
        assert not sentinel.exists()
    for source in (tmp_path / "cache").glob("m_*.py"):
        ast.parse(source.read_text())  # still plain, parseable Python


@pytest.mark.parametrize(
    "type_name",
    [
        "Thing(object):\n    pass\n__import__('os').system('true')\nclass X",
        "__class__",
        "print",
        "import",
        "Thing;x=1",
        "_private",
    ],
)
def test_type_names_that_are_not_identifiers_are_refused(tmp_path: Path, type_name: str) -> None:
    path = write_simple(tmp_path / "t.h5", type_name=type_name)
    with pytest.raises(h5model.SpecError, match=r"refuses|not a plain"):
        h5model.open(path)
    assert not list((tmp_path / "cache").glob("m_*.py"))


@pytest.mark.parametrize(
    "attr_name",
    [
        "x'); __import__('os').system('true') #",
        "__class__",
        "model_config",
        "class",
        "hdf5_path",
        "3d",
        "a b",
    ],
)
def test_odd_field_names_become_safe_fields(tmp_path: Path, attr_name: str) -> None:
    path = write_simple(tmp_path / "t.h5", attr_name=attr_name, value="v")
    with h5model.open(path) as f:
        root = f.root
        fields = {spec.name: name for name, spec in type(root).h5_fields.items()}
        field = fields[attr_name]
        assert field.isidentifier()
        assert getattr(root, field) == "v"
        assert root.hdf5_path == "/"


def test_hostile_namespace_name_and_version(tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned.txt"
    name = "lab\n" + SENTINEL_CODE.format(path=str(sentinel))
    version = "1.0.0'''\"\"\""
    schema = simple_namespace()["1.0.0"]["lab.schema"]
    path = write_spec_file(
        tmp_path / "ns.h5",
        {
            "evil": {
                "1.0.0": {
                    "namespace": namespace_doc(name, version, ["lab.schema"]),
                    "lab.schema": schema,
                }
            }
        },
        {"namespace": name, "data_type": "Thing", "label": "x"},
    )
    with h5model.open(path) as f:
        assert f.root.label == "x"
    assert not sentinel.exists()
