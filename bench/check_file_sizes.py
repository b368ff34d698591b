"""Line budget: no source file over 600 lines (STYLE.md), so every file reads in one sitting."""
import pathlib
import sys

LIMIT = 600
ROOT = pathlib.Path(__file__).resolve().parent.parent
too_long = [(p, n) for p in sorted(ROOT.glob("[!.]*/**/*.py"))
            if ".venv" not in p.parts and (n := len(p.read_text().splitlines())) > LIMIT]
for path, n in too_long:
    print(f"{path.relative_to(ROOT)}: {n} lines (budget {LIMIT})")
sys.exit(1 if too_long else 0)
