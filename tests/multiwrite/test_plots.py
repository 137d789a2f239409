import matplotlib.pyplot as plt
import pandas as pd
import pytest

from companion.multiwrite import plots


def legend_texts(fig):
    return [t.get_text() for ax in fig.axes for legend in [ax.get_legend()] if legend for t in legend.get_texts()]


@pytest.fixture
def latency_frame():
    rows = []
    for algorithm, factor in (("mesh", 1.0), ("multiwrite", 0.8)):
        for size in (1024, 65536, 1 << 20):
            rows.append(
                {
                    "algorithm": algorithm,
                    "message_bytes": size,
                    "latency_us": factor * size / 1e3,
                    "analytic_latency_us": size / 1e3,
                }
            )
    return pd.DataFrame(rows)


def test_latency_lines_label_measured_and_analytic(latency_frame):
    fig = plots.latency_lines(latency_frame, "message_bytes", "t")
    texts = legend_texts(fig)
    assert any("measured here" in t for t in texts) and any("analytic model" in t for t in texts)
    plt.close(fig)


def test_reduction_lines_show_the_paper_value_as_reported():
    frame = pd.DataFrame({"message_bytes": [1024, 2048], "reduction": [0.1, -0.05], "topology": ["star", "star"]})
    fig = plots.reduction_lines(frame, "message_bytes", "topology", "t", paper_percent=33)
    assert any("reported by the paper" in t for t in legend_texts(fig))
    plt.close(fig)


def test_tornado_and_heatmap_and_validation(latency_frame):
    study = pd.DataFrame(
        {
            "factor": ["default", "engine", "engine"],
            "setting": ["default", "low", "high"],
            "value": ["default", "duplex", "shared"],
            "reduction": [0.1, 0.05, 0.4],
        }
    )
    for fig in (
        plots.tornado(study, "t"),
        plots.validation_scatter(latency_frame, "t"),
        plots.grouped_bars(latency_frame, "message_bytes", "latency_us", "algorithm", "t", "us"),
    ):
        assert any("measured here" in t for t in legend_texts(fig)) or fig.axes[0].get_xlabel().endswith(
            "measured here)"
        )
        plt.close(fig)
    links = pd.DataFrame(
        {
            "algorithm": ["mesh", "mesh"],
            "link": ["r0->sw", "sw->r1"],
            "link_class": ["rank->sw", "sw->rank"],
            "src": ["r0", "sw"],
            "dst": ["sw", "r1"],
            "payload_bytes": [2048, 1024],
        }
    )
    fig = plots.link_heatmap(links, "payload_bytes", 1024, "t", "blocks")
    assert "measured here" in fig.axes[1].get_ylabel()
    plt.close(fig)


def test_stress_timeline_and_convergence():
    stress = pd.DataFrame(
        {"algorithm": ["mesh"] * 4, "segment": [0] * 4, "operation": range(4), "latency_us": [1.0, 2.0, 3.0, 4.0]}
    )
    fig = plots.stress_timeline(stress, window=2, title="t")
    assert any("p99" in t for t in legend_texts(fig))
    plt.close(fig)
    grains = pd.DataFrame({"algorithm": ["mesh"] * 3, "grain": [4, 8, 16], "latency_us": [10.5, 10.1, 10.0]})
    converged = pd.DataFrame({"algorithm": ["mesh"], "grain": [8], "latency_us": [10.1]})
    fig = plots.grain_convergence(grains, converged, "t")
    assert list(fig.axes[0].lines[0].get_xdata()) == [4, 8, 16]
    assert any("converged grain" in t for t in legend_texts(fig))
    assert "chunks per message" in fig.axes[0].get_xlabel()
    plt.close(fig)


def test_count_heatmap_separates_zero_and_one():
    links = pd.DataFrame(
        {
            "algorithm": ["mesh", "mesh", "multiwrite", "multiwrite"],
            "link": ["a->b", "b->a", "a->b", "b->a"],
            "link_class": ["x", "x", "x", "x"],
            "src": ["a", "b", "a", "b"],
            "dst": ["b", "a", "b", "a"],
            "max_duplication": [3, 0, 1, 0],
        }
    )
    fig = plots.link_heatmap(links, "max_duplication", 1, "t", "copies", counts=True)
    mesh = fig.axes[0].collections[0]
    colours = mesh.cmap(mesh.norm([0, 1, 2, 3]))
    assert not (colours[0] == colours[1]).all() and not (colours[1] == colours[2]).all()
    assert all(t.get_fontsize() >= 8 for t in fig.axes[0].get_xticklabels())
    plt.close(fig)


def test_axis_labels_are_not_raw_column_names():
    frame = pd.DataFrame({"top_k": [1, 2], "latency_us": [1.0, 2.0], "algorithm": ["mesh", "mesh"]})
    fig = plots.grouped_bars(frame, "top_k", "latency_us", "algorithm", "t", "latency (us)")
    assert fig.axes[0].get_xlabel() == "experts per token (top-k)"
    plt.close(fig)


def test_reduction_cells_show_intervals_and_the_paper_reading():
    cells = pd.DataFrame(
        {
            "message_bytes": [4096, 4096, 1 << 20, 1 << 20],
            "percentile": [50.0, 99.0, 50.0, 99.0],
            "reduction": [0.1, -0.2, 0.05, 0.0],
            "reduction_ci_low": [0.05, -0.3, 0.0, -0.1],
            "reduction_ci_high": [0.15, -0.1, 0.1, 0.1],
        }
    )
    fig = plots.reduction_cells(cells, 0.33, "t")
    assert any("reported by the paper" in t for t in legend_texts(fig))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["4 KiB", "1 MiB"]
    plt.close(fig)
