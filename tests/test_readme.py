"""README.md stays true: CI runs its quickstart, and its course map names what exists."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()


def _quickstart_lines():
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", README, re.S)
    assert block, "README.md has no ```bash block under '## Quickstart'"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_is_two_command_lines():
    assert len(_quickstart_lines()) == 2


def test_ci_runs_the_quickstart_install_and_test_commands():
    install, test = _quickstart_lines()
    ci_lines = [line.strip() for line in CI.splitlines() if line.strip() and not line.startswith("#")]
    # CI leaves out only the final `&& jupyter lab`, which would wait for a browser.
    assert install.endswith(" && .venv/bin/jupyter lab")
    assert install.removesuffix(" && .venv/bin/jupyter lab") in ci_lines
    assert test in ci_lines
    assert "rm -rf .venv" in ci_lines, "CI must start from a fresh virtual environment"


def test_every_linked_path_exists():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if "://" not in target:
            assert (ROOT / target).exists(), f"README.md links to {target}, which does not exist"


def test_course_map_lists_every_lecture_and_assignment():
    for notebook in sorted((ROOT / "lectures").glob("*.ipynb")):
        assert f"lectures/{notebook.name}" in README, f"{notebook.name} is missing from the course map"
    for assignment in sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()):
        assert f"exercises/{assignment}/" in README, f"assignment {assignment} is missing from the course map"


def test_checker_output_shown_in_readme_is_what_the_checker_prints():
    from seglab.checks.upsampling import _TRANSPOSED_1D

    import torch

    n_cases = len(_TRANSPOSED_1D.cases(torch.Generator().manual_seed(0), 8))
    assert f"✓ transposed_conv1d: {n_cases}/{n_cases} cases passed" in README


def test_failure_message_shown_in_readme_is_what_the_checker_says():
    import pytest
    import torch

    from seglab import checks

    def appends_overlaps(x, w, stride=1, padding=0):  # the lecture notes' mistake
        out = x[0] * w
        for value in x[1:]:
            overlap = len(w) - stride
            out = torch.cat([out[:-overlap], out[-overlap:] + value * w[:overlap], value * w])
        return out

    with pytest.raises(checks.CheckFailed) as failure:
        checks.transposed_conv1d(appends_overlaps)
    shown = re.search(r"```\n(transposed_conv1d: wrong answer.*?)```", README, re.S).group(1)
    for line in shown.splitlines():
        assert line.removesuffix(" ...") in str(failure.value)
