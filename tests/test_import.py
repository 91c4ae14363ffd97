import subprocess
import sys


def test_import_is_cheap_and_silent():
    code = (
        "import sys, torch; state = torch.get_rng_state();"
        "import mfgd_helpers as mf;"
        "bad = [m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules];"
        "assert not bad, bad;"
        "assert torch.equal(state, torch.get_rng_state());"
        "assert sorted(mf.__all__) == sorted(set(mf.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""


def test_public_names_have_docstrings_with_examples():
    import mfgd_helpers as mf

    missing = [name for name in mf.__all__
               if name != "TrainResult" and ">>>" not in (getattr(mf, name).__doc__ or "")]
    assert not missing, f"public functions without a runnable example: {missing}"
