"""Write a pip constraints file that tests the version bounds in pyproject.toml.

    python scripts/bounds.py oldest -o constraints-oldest.txt
    python scripts/bounds.py latest -o constraints-latest.txt
    pip install -c constraints-oldest.txt -e ".[lab,test]"

oldest  pins every direct requirement (``dependencies`` and every extra) to
        the version in its ``>=`` lower bound, so the tests run against the
        oldest releases that pyproject.toml claims to support. A requirement
        without a ``>=`` bound is an error.
latest  pins nothing but torch, so pip installs the newest release that each
        bound allows.

Both modes pin torch to 2.13.0 instead (see TORCH_NOTE). The file is written
atomically: a reader never sees half of it. ``--pyproject`` reads another
pyproject.toml than this repository's.
"""

import argparse
import os
import re
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TORCH_PIN = "torch==2.13.0"
TORCH_NOTE = (
    "# torch is pinned to 2.13.0, not to its lower bound, in every mode: it is\n"
    "# the CPU-only build that constraints.txt pins, and older releases on the\n"
    "# default index are multi-GB CUDA builds.\n"
)
# A PEP 508 requirement: its name, then its extras, specifiers and marker.
REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)(.*)")
LOWER_BOUND = re.compile(r">=\s*([^,;\s]+)")


def canonical(name: str) -> str:
    """The name pip compares: ``Jinja2`` and ``jinja2`` are one package."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(pyproject: Path) -> list[str]:
    """Every direct requirement: ``dependencies``, then every extra."""
    try:
        meta = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    except OSError as error:
        sys.exit(f"bounds.py: cannot read {pyproject}: {error.strerror}")
    except tomllib.TOMLDecodeError as error:
        sys.exit(f"bounds.py: {pyproject} is not valid TOML: {error}")
    except KeyError:
        sys.exit(f"bounds.py: {pyproject} has no [project] table")
    requirements = list(meta.get("dependencies", []))
    for extra in meta.get("optional-dependencies", {}).values():
        requirements += extra
    return requirements


def oldest_pins(requirements: list[str]) -> dict[str, str]:
    """Each requirement's name mapped to ``name==lower bound``; torch left out."""
    pins = {}
    for requirement in requirements:
        name, rest = REQUIREMENT.match(requirement).groups()
        if canonical(name) == "torch":
            continue
        floor = LOWER_BOUND.search(rest.split(";")[0])
        if floor is None:
            sys.exit(f"bounds.py: {requirement!r} has no lower bound (>=): add one to pyproject.toml")
        pin = f"{name}=={floor.group(1)}"
        if pins.setdefault(canonical(name), pin) != pin:
            sys.exit(f"bounds.py: {name} has two lower bounds ({pins[canonical(name)]}, {pin}): make them agree")
    return pins


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["oldest", "latest"])
    parser.add_argument("-o", "--output", type=Path, required=True, help="the constraints file to write")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    args = parser.parse_args()

    pins = [TORCH_PIN]
    if args.mode == "oldest":
        pins += oldest_pins(read_requirements(args.pyproject)).values()
    else:
        read_requirements(args.pyproject)  # a broken pyproject fails here too, not later in pip
    header = f"# Written by scripts/bounds.py {args.mode} from {args.pyproject.name}; do not edit.\n"
    try:
        write_atomically(args.output, header + TORCH_NOTE + "".join(pin + "\n" for pin in pins))
    except OSError as error:
        sys.exit(f"bounds.py: cannot write {args.output}: {error.strerror}")
    print(f"bounds.py {args.mode}: wrote {args.output}, pinning {', '.join(pins)}")


if __name__ == "__main__":
    main()
