"""Every rule's conda environment (`snakemake --sdm conda`) lists the packages its script imports,
directly or through the iotad modules it imports (their module-level imports, followed transitively;
the script's own imports at any depth). Read from the files themselves: the rules' `conda:` and
`script:` entries, the scripts' and the library's import statements, the env files' dependencies."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "workflow" / "rules"
LIBRARY = ROOT / "src" / "iotad"

# Import name -> conda-forge package name, where they differ.
CONDA_NAME = {"sklearn": "scikit-learn", "yaml": "pyyaml", "scikit_posthocs": "scikit-posthocs"}
# Packages iotad imports where the scan cannot see them: iotad.models builds PyOD detectors (lazily,
# in build_detectors), whose classes iotad.models.pyod_models imports by name (importlib).
IMPORTED_BY_NAME = {"iotad.models": {"pyod"}}
# Packages a listed package always brings (its own conda dependencies), so need no line of their own.
BROUGHT_BY = {
    "threadpoolctl": "scikit-learn",
    "scipy": "scikit-learn",
    "matplotlib": "seaborn",
    "numpy": "pandas",
    "keras": "tensorflow",
    "numba": "pyod",
    "urllib3": "requests",
}


def rules() -> list[tuple[str, str, Path, Path]]:
    """(rules file, rule name, conda env file, script) for every rule with both."""
    found = []
    for smk in sorted(RULES.glob("*.smk")):
        for block in re.split(r"^(?=rule \w+:)", smk.read_text(), flags=re.M)[1:]:
            name = re.match(r"rule (\w+):", block)[1]
            conda = re.search(r"^    conda:\s*\n\s+\"([^\"]+)\"", block, re.M)
            script = re.search(r"^    script:\s*\n\s+\"([^\"]+)\"", block, re.M)
            if conda and script:
                found.append((smk.name, name, (RULES / conda[1]).resolve(), (RULES / script[1]).resolve()))
    return found


def imported(path: Path, *, module_level_only: bool) -> set[str]:
    """Absolute module names a file imports (relative imports resolved within iotad)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level_only else ast.walk(tree)
    package = ".".join(("iotad", *path.relative_to(LIBRARY).parent.parts)) if LIBRARY in path.parents else ""
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names}  # `from . import x` may name a module
    return names


def library_file(module: str) -> Path | None:
    parts = module.split(".")[1:]
    for candidate in (LIBRARY.joinpath(*parts, "__init__.py"), LIBRARY.joinpath(*parts).with_suffix(".py")):
        if parts and candidate.is_file() or not parts and candidate.name == "__init__.py" and candidate.is_file():
            return candidate
    return None


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party packages the script needs: its own imports and, through iotad, the
    module-level imports of every iotad module reached."""
    pending, seen, packages = list(imported(script, module_level_only=False)), set(), set()
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        top = module.split(".")[0]
        if top == "iotad":
            path = library_file(module)
            if path is not None:
                pending += [*imported(path, module_level_only=True), *IMPORTED_BY_NAME.get(module, ())]
                pending += [
                    ".".join(module.split(".")[:i]) for i in range(2, module.count(".") + 1)
                ]  # parent packages run first
        elif top and top not in sys.stdlib_module_names and top != "__future__":
            packages.add(top)
    return packages


def env_packages(env: Path) -> set[str]:
    names = set()
    for dependency in yaml.safe_load(env.read_text())["dependencies"]:
        if isinstance(dependency, str):
            names.add(re.split(r"[=<>! ]", dependency, maxsplit=1)[0].lower())
    return names


def test_the_rules_are_found():
    found = rules()
    assert len(found) > 20 and {name for _, name, _, _ in found} >= {"split", "train", "latent_figure", "lof"}


@pytest.mark.parametrize("smk,rule,env,script", rules(), ids=lambda v: v if isinstance(v, str) else None)
def test_rule_env_has_every_imported_package(smk, rule, env, script):
    listed = env_packages(env)
    needed = {CONDA_NAME.get(name, name).lower() for name in third_party_imports(script)}
    missing = sorted(p for p in needed - listed if BROUGHT_BY.get(p) not in listed)
    assert not missing, f"{smk}: rule {rule}'s env {env.relative_to(ROOT)} lacks {missing} (imported by {script.name})"


def test_the_import_scan_sees_through_the_library():
    """The scan follows iotad's module-level imports: the split script reaches scikit-learn only through
    iotad.split."""
    script = ROOT / "workflow" / "scripts" / "split.py"
    assert "sklearn" not in {m.split(".")[0] for m in imported(script, module_level_only=False)}
    assert "sklearn" in third_party_imports(script)
