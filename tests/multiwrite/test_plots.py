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
    grains = pd.DataFrame(
        {"algorithm": ["mesh"] * 3, "chunk_bytes": [4096, 16384, 65536], "latency_us": [10.0, 10.1, 10.5]}
    )
    fig = plots.convergence(grains, "t")
    assert fig.axes[0].lines[0].get_ydata()[0] == 0.0
    plt.close(fig)
