"""Validate the Amazon States Language of every state machine in template.yaml.

Neither `sam validate --lint` nor cfn-lint looks inside a DefinitionUri file, so this
renders each definition with the local stack's substitutions and runs the pinned npm
package asl-validator on it (`npm ci` installs it).

Usage: python tools/check_asl.py [--template PATH]
Exit status: 0 all valid, 1 a definition is invalid, 2 the check could not run.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = ("npx", "--no-install", "asl-validator")


def _validator_problem() -> str | None:
    """Why asl-validator cannot run here, or None when it can."""
    if shutil.which("npx") is None:
        return "npx not found: install Node.js (20+), then run `npm ci` in the repository root"
    if not (REPO_ROOT / "node_modules" / "asl-validator").is_dir():
        return f"asl-validator is not installed: run `npm ci` in {REPO_ROOT}"
    return None


def _validate(definition: Path) -> tuple[bool, str]:
    completed = subprocess.run(
        [*VALIDATOR, "--json-path", str(definition)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.returncode == 0, (completed.stdout + completed.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml")
    args = parser.parse_args(argv)
    template_path: Path = args.template.resolve()

    # Runs from a plain checkout, where the jobgate_cli package may not be installed.
    sys.path.insert(0, str(REPO_ROOT / "cli"))
    from jobgate_cli.sam_template import (
        TemplateError,
        default_substitutions,
        load_template,
        render_state_machine_definition,
        state_machine_ids,
    )

    problem = _validator_problem()
    if problem:
        print(f"check_asl: {problem}", file=sys.stderr)
        return 2

    failures = 0
    try:
        template = load_template(template_path)
        logical_ids = state_machine_ids(template)
        if not logical_ids:
            print(f"check_asl: no state machine with a DefinitionUri in {template_path}", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="jobgate-asl-") as tmp:
            for logical_id in logical_ids:
                source = template["Resources"][logical_id]["Properties"]["DefinitionUri"]
                try:
                    rendered = render_state_machine_definition(
                        template, logical_id, template_path.parent, default_substitutions(template, logical_id)
                    )
                except TemplateError as error:
                    failures += 1
                    print(f"FAIL {logical_id} ({source}): {error}", file=sys.stderr)
                    continue
                definition = Path(tmp) / f"{logical_id}.asl.json"
                definition.write_text(rendered, encoding="utf-8")
                valid, output = _validate(definition)
                if valid:
                    print(f"OK   {logical_id} ({source})")
                else:
                    failures += 1
                    report = output.replace(str(definition), source)
                    print(f"FAIL {logical_id} ({source}):\n{report}", file=sys.stderr)
    except (TemplateError, OSError) as error:
        print(f"check_asl: {error}", file=sys.stderr)
        return 2

    if failures:
        print(f"check_asl: {failures} of {len(logical_ids)} state machine(s) invalid", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
