import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import gentext as gt  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_every_plot_draws_into_an_axis(ax):
    x = torch.rand(12, 1, 8, 8)
    assert gt.plot.images(x, ncols=6, row_labels=["a", "b"], title="t", ax=ax) is ax
    assert len(ax.images) == 1 and ax.get_title() == "t"
    assert gt.plot.interpolation(torch.rand(2, 5, 1, 8, 8), ax=ax) is ax
    assert gt.plot.losses({"train": [3, 2, 1], "val": [3, 2.5, 2]}, ax=ax) is ax
    assert ax.get_xlabel() == "epoch"
    assert gt.plot.latent(torch.randn(50, 2), torch.arange(50) % 10, ax=ax) is ax
    assert gt.plot.scatter2d(torch.randn(50, 2), ax=ax) is ax
    assert gt.plot.density2d(lambda p: -(p ** 2).sum(1) / 2, resolution=20, ax=ax) is ax


def test_plots_without_an_axis_show_their_own_figure():
    assert gt.plot.images(torch.rand(4, 1, 8, 8)) is None
    plt.close("all")


def test_bad_shapes_get_clear_errors(ax):
    with pytest.raises(ValueError, match=r"N x 1 x H x W"):
        gt.plot.images(torch.rand(4, 3, 8, 8), ax=ax)
    with pytest.raises(ValueError, match=r"R x S x 1 x H x W"):
        gt.plot.interpolation(torch.rand(5, 1, 8, 8), ax=ax)
    with pytest.raises(ValueError, match="N x 2"):
        gt.plot.latent(torch.randn(10, 3), torch.zeros(10), ax=ax)
    with pytest.raises(ValueError, match="row labels"):
        gt.plot.images(torch.rand(4, 1, 8, 8), ncols=2, row_labels=["a"], ax=ax)
