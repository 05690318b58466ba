"""The notebook shows the kit's code where the chapter teaches it (genimg_kit.listings)."""

import inspect

from genimg_kit.listings import show_source, source_without_docstring
from genimg_kit.models import VAE, DiffusionModel, compile_diffusion_model


def test_the_code_shown_is_the_code_that_runs_without_its_docstring():
    shown = source_without_docstring(VAE.compute_loss)
    assert shown.startswith("def compute_loss(self, x=None, y=None, y_pred=None")
    assert VAE.compute_loss.__doc__.strip() not in shown and '"""' not in shown
    running = inspect.getsource(VAE.compute_loss)
    for line in ("self.kl_loss_tracker.update_state(kl_loss)", "return reconstruction_loss + kl_loss"):
        assert line in running and line in shown


def test_methods_are_titled_with_their_class_and_functions_shown_whole():
    markdown = show_source(DiffusionModel.compute_loss, compile_diffusion_model).data
    assert markdown.startswith("```python\n# DiffusionModel.compute_loss\ndef compute_loss(")
    assert "def compile_diffusion_model(" in markdown and "use_ema=True" in markdown
    assert markdown.endswith("```") and markdown.count("```") == 2


def test_code_without_a_docstring_is_shown_as_written():
    def bare(x):
        return x + 1

    assert source_without_docstring(bare) == "def bare(x):\n    return x + 1\n"
