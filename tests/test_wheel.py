"""A wheel, installed into a fresh environment outside the checkout, runs the main job and the report: the
benchmark suites ship inside the package (``rnnbench.benchmarks``) and nothing generic lands in site-packages."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def uv_binary() -> str | None:
    try:
        import uv

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


@pytest.mark.slow
def test_a_wheel_outside_the_checkout_runs_bench_and_report(tmp_path):
    uv = uv_binary()
    if uv is None:
        if os.environ.get("CI"):
            pytest.fail("uv is missing in CI; the dev extra installs it")
        pytest.skip("uv is not installed (pip install 'rnnbench[dev]')")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "TOX_"))}

    def run(*cmd, cwd=tmp_path):
        out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"{' '.join(map(str, cmd))}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    run(uv, "build", "--wheel", "--quiet", "--out-dir", str(tmp_path / "dist"), str(ROOT))
    (wheel,) = (tmp_path / "dist").glob("rnnbench-*.whl")
    venv = tmp_path / "venv"
    run(uv, "venv", "--quiet", "--python", sys.executable, str(venv))
    python = venv / "bin" / "python"
    run(uv, "pip", "install", "--quiet", "--python", str(python), f"{wheel}[bench,report]")

    site = Path(run(str(python), "-c", "import rnnbench, pathlib; print(pathlib.Path(rnnbench.__file__).parent)")
                .strip())
    assert site.parent.name == "site-packages" and (site / "benchmarks" / "conftest.py").exists()
    for generic in ("reports", "benchmarks", "impl_numpy", "impl_tf", "impl_torch"):
        assert not (site.parent / generic).exists(), generic

    work = tmp_path / "elsewhere"
    work.mkdir()
    printed = run(str(venv / "bin" / "rnnbench"), "bench", "--impl", "numpy", "--profile", "ci", "--threads", "1",
                  "--json", "run.json", cwd=work)
    assert "binary-rnn-T5-S4     numpy" in printed and "report: reports/out/index.html" in printed
    assert (work / "run.json").exists() and (work / "reports" / "out" / "index.html").exists()
    run(str(venv / "bin" / "rnnbench"), "report", "run.json", "--out", "again", cwd=work)
    assert (work / "again" / "report.md").read_text().count("| binary-rnn-T5-S4 | numpy |") >= 2


def test_every_package_of_the_tree_is_in_the_wheel():
    """setuptools ships only the packages pyproject.toml lists: a new subpackage left out installs (editable) and
    tests fine here, then is missing from every wheel, ``rnnbench ab`` side and CI install."""
    import tomllib

    root = ROOT.resolve()
    setup = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {name: root / setup["package-dir"].get(name, name.replace(".", "/")) for name in setup["packages"]}
    for name, folder in folders.items():
        assert (folder / "__init__.py").exists(), name
    tops = {setup["package-dir"][n]: n for n in setup["package-dir"] if n != "rnnbench"}
    found = set()
    for init in root.glob("rnnbench/**/__init__.py"):
        found.add(".".join(init.parent.relative_to(root).parts))
    for top, name in tops.items():
        for init in (root / top).glob("**/__init__.py"):
            found.add(".".join((name, *init.parent.relative_to(root / top).parts)))
    assert found == set(setup["packages"])
