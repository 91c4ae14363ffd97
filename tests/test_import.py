import inspect
import re
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


REQUIRED = {
    "make_target", "init_factors", "example_problem", "criterion", "gradient_step",
    "analytic_gradients", "train", "TrainResult", "best_rank_k_loss", "truncated_svd",
    "curvature", "max_stable_lr", "suggest_lr", "describe_graph", "plot_loss",
    "plot_matrices", "plot_graph", "playground", "load_sample_image", "random_mask",
}


def test_the_public_api_is_small():
    import mfgd_helpers as mf

    assert REQUIRED <= set(mf.__all__), REQUIRED - set(mf.__all__)
    assert set(mf.__all__) - REQUIRED == {"DivergenceWarning"}
    for name in mf.__all__:
        assert getattr(mf, name) is not None


def test_public_names_have_docstrings_with_examples():
    import mfgd_helpers as mf

    missing = [name for name in mf.__all__ if ">>>" not in (getattr(mf, name).__doc__ or "")]
    assert not missing, f"public names without a runnable example: {missing}"


def test_public_functions_have_a_parameters_section_and_type_hints():
    import mfgd_helpers as mf

    problems = []
    for name in mf.__all__:
        obj = getattr(mf, name)
        if not inspect.isfunction(obj):
            continue
        signature = inspect.signature(obj)
        if signature.parameters and "Parameters\n    ----------" not in obj.__doc__:
            problems.append(f"{name}: no numpydoc Parameters section")
        for parameter in signature.parameters.values():
            if parameter.annotation is inspect.Parameter.empty:
                problems.append(f"{name}: parameter {parameter.name} has no type hint")
            elif parameter.kind is not parameter.VAR_KEYWORD and \
                    not re.search(rf"^    \**{parameter.name}\b", obj.__doc__, re.M) and \
                    not re.search(rf"^    [\w, ]*\b{parameter.name}\b[\w, ]* :", obj.__doc__, re.M):
                problems.append(f"{name}: parameter {parameter.name} is not documented")
        if signature.return_annotation is inspect.Signature.empty:
            problems.append(f"{name}: no return type hint")
    assert not problems, "\n".join(problems)
