"""Every assumption of one simulated collective, as a validated, documented parameter.

A :class:`Scenario` is the single input of the simulator (:func:`companion.multiwrite.simulate`)
and of the analytic model (:func:`companion.multiwrite.analytic.predict`). Each field carries its
unit in its name; each default is an assumption, and the module-level ``ASSUMPTIONS`` says where
it comes from. Nothing here is taken from the MultiWrite paper (only its abstract is available).

A bad value raises :class:`ScenarioError` naming the field and what is allowed; the command
line turns the field name into its flag (``ranks_per_node`` -> ``--ranks-per-node``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

COLLECTIVES = ("allgather", "dispatch")
ALGORITHMS = ("ring", "mesh", "hierarchical", "multiwrite", "hierarchical-multiwrite", "group-multicast")
ALGORITHMS_FOR = {
    "allgather": ALGORITHMS,
    "dispatch": ("mesh", "multiwrite", "group-multicast"),
}
TOPOLOGIES = ("star", "leafspine", "fullmesh")
ENGINES = ("duplex", "shared")
ROUTINGS = ("uniform", "skewed")
PATH_SELECTIONS = ("source", "ecmp-hash")
MULTICAST_ALGORITHMS = ("multiwrite", "hierarchical-multiwrite", "group-multicast")
PACKET_MODEL_MAX_RANKS = 2048  # above this an AllGather needs hours of events: the flow model's range
MODELS = ("packet", "flow")

# Where each default comes from. None of these numbers is from the MultiWrite paper.
ASSUMPTIONS = {
    "link_bandwidth_GBps": "56 GB/s: one of the 7 UB switch planes of an Ascend 910C "
    "(392 GB/s unidirectional per NPU / 7 planes), public CloudMatrix384 figures",
    "ranks_per_node": "8 NPUs per Atlas A2 / A3 server",
    "oversubscription": "1.0: the CloudMatrix384 UB fabric is a non-blocking Clos",
    "link_latency_ns": "100 ns per hop (cable + SerDes), an assumption",
    "switch_latency_ns": "250 ns forwarding latency per switch, an assumption (cut-through switch ASICs)",
    "issue_overhead_ns": "500 ns to post one write (descriptor + doorbell), an assumption",
    "mtu_bytes": "4096-byte packet payload, as RoCE/IB MTU 4096",
    "header_bytes": "64 header bytes per packet, an assumption close to RoCEv2's 58-78",
    "bitmap_bits_per_rank": "1 bit per rank of destination bitmap in a MultiWrite header",
    "path_selection": "source: one rule for unicast and multicast flows alike, every flow of rank r crosses "
    "spine r mod k (static source-based spine choice, balanced when all ranks send alike, so neither scheme "
    "gains from spine choice: issue 10's confound); ecmp-hash, per-flow ECMP hashing as commodity switches do "
    "(hash-threshold ECMP, RFC 2992; multicast trees hashed on (source, group)), is the alternative studied in "
    "06_sensitivity, where few large flows can collide on one uplink",
    "engine": "duplex: a DMA/NIC engine with independent send and receive directions",
    "switch_replication_GBps": "inf: replication at line rate in the switch crossbar",
    "group_setup_us": "100 us control-plane round trip per new multicast group, an assumption",
    "group_table_entries": "4096 multicast entries per switch, an assumption",
    "token_bytes": "7168 bytes: a DeepSeek-V3 hidden vector of 7168 in FP8",
    "top_k": "8 routed experts per token (DeepSeek-V3)",
}


class ScenarioError(ValueError):
    """A scenario parameter with a value the model does not allow; ``parameter`` names it."""

    def __init__(self, parameter: str, message: str):
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.detail = message


def _meta(help_text: str) -> dict[str, str]:
    return {"help": help_text}


@dataclass(frozen=True)
class Scenario:
    """One collective on one fabric. ``None`` fields resolve to the value their help names."""

    collective: str = field(default="allgather", metadata=_meta("which collective: allgather or dispatch"))
    algorithm: str = field(default="mesh", metadata=_meta("how the collective is built from writes"))
    topology: str = field(default="star", metadata=_meta("star, leafspine or fullmesh"))
    ranks: int = field(default=8, metadata=_meta("number of ranks (NPUs)"))
    ranks_per_node: int | None = field(
        default=None, metadata=_meta("ranks behind one leaf / in one node; default 8 when it divides ranks, else ranks")
    )
    oversubscription: float = field(default=1.0, metadata=_meta("leaf downlink / uplink capacity ratio (leafspine)"))
    spines: int | None = field(default=None, metadata=_meta("spine switches (leafspine); default ranks_per_node"))
    path_selection: str = field(
        default="source",
        metadata=_meta("equal-cost path choice per flow, unicast and multicast alike: source or ecmp-hash"),
    )
    message_bytes: int = field(default=1 << 20, metadata=_meta("AllGather: each rank's block in bytes"))
    link_bandwidth_GBps: float = field(
        default=56.0, metadata=_meta("bandwidth of every rank link, 1e9 B/s, each direction")
    )
    link_latency_ns: float = field(default=100.0, metadata=_meta("propagation latency of one link hop"))
    switch_latency_ns: float = field(default=250.0, metadata=_meta("forwarding latency of one switch"))
    issue_overhead_ns: float = field(default=500.0, metadata=_meta("time a rank spends posting one write"))
    mtu_bytes: int = field(default=4096, metadata=_meta("largest payload of one packet"))
    header_bytes: int = field(default=64, metadata=_meta("header bytes of every packet"))
    bitmap_bits_per_rank: int = field(
        default=1, metadata=_meta("MultiWrite destination bitmap bits per rank, per packet")
    )
    engine: str = field(
        default="duplex", metadata=_meta("duplex: send and receive engines separate; shared: one engine")
    )
    engine_bandwidth_GBps: float | None = field(
        default=None, metadata=_meta("rank engine bandwidth; default the rank's total link bandwidth")
    )
    switch_replication_GBps: float = field(
        default=math.inf, metadata=_meta("bytes of copies a switch replicates per s")
    )
    replication_latency_ns: float = field(default=0.0, metadata=_meta("extra latency at a multicast branching switch"))
    buffer_bytes: float = field(
        default=math.inf, metadata=_meta("input buffer per link (credit flow control); inf: none")
    )
    chunk_bytes: int = field(
        default=1 << 16, metadata=_meta("simulation grain: bytes moved as one unit (rounded up to MTU)")
    )
    max_chunks_per_message: int = field(default=64, metadata=_meta("chunks grow beyond chunk_bytes to keep this count"))
    group_setup_us: float = field(
        default=100.0, metadata=_meta("control-plane round trip to create one multicast group")
    )
    group_table_entries: int = field(default=4096, metadata=_meta("multicast groups one switch can hold"))
    tokens_per_rank: int = field(default=128, metadata=_meta("dispatch: tokens each rank routes"))
    token_bytes: int = field(default=7168, metadata=_meta("dispatch: bytes of one token"))
    top_k: int = field(default=8, metadata=_meta("dispatch: experts chosen per token"))
    experts_per_rank: int = field(default=4, metadata=_meta("dispatch: experts hosted by each rank"))
    routing: str = field(default="uniform", metadata=_meta("dispatch: uniform or skewed (Zipf) expert choice"))
    routing_skew: float = field(default=1.0, metadata=_meta("dispatch: Zipf exponent of the skewed routing"))
    seed: int = field(default=0, metadata=_meta("seed of every random choice"))
    model: str = field(
        default="packet",
        metadata=_meta("packet: chunk-level events; flow: max-min fair fluid flows (companion.multiwrite.flow)"),
    )

    def __post_init__(self) -> None:
        self._check_choice("collective", COLLECTIVES)
        self._check_choice("algorithm", ALGORITHMS_FOR[self.collective])
        self._check_choice("topology", TOPOLOGIES)
        self._check_choice("engine", ENGINES)
        self._check_choice("routing", ROUTINGS)
        self._check_choice("model", MODELS)
        self._check_choice("path_selection", PATH_SELECTIONS)
        self._check_int("ranks", low=2)
        if self.model == "packet" and self.ranks > PACKET_MODEL_MAX_RANKS:
            raise ScenarioError(
                "ranks",
                f"the packet model cannot finish above {PACKET_MODEL_MAX_RANKS} ranks (its events grow as ranks^2); "
                f"use --model flow for {self.ranks} ranks",
            )
        if self.ranks_per_node is not None:
            self._check_int("ranks_per_node", low=1)
            if self.ranks % self.ranks_per_node:
                raise ScenarioError("ranks_per_node", f"must divide ranks ({self.ranks}), got {self.ranks_per_node}")
        if self.spines is not None:
            self._check_int("spines", low=1)
        self._check_float("oversubscription", low=1.0, finite=True)
        self._check_int("message_bytes", low=1)
        self._check_float("link_bandwidth_GBps", low=0.0, strict=True, finite=True)
        for name in ("link_bandwidth_GBps", "engine_bandwidth_GBps", "switch_replication_GBps"):
            value = getattr(self, name)
            if value is not None and math.isfinite(value) and not math.isfinite(value * 1e9 * self.ranks):
                raise ScenarioError(name, f"overflows when converted to bytes per second: got {value!r}")
        if self.engine_bandwidth_GBps is not None:
            self._check_float("engine_bandwidth_GBps", low=0.0, strict=True, finite=True)
        for name in (
            "link_latency_ns",
            "switch_latency_ns",
            "issue_overhead_ns",
            "replication_latency_ns",
            "group_setup_us",
        ):
            self._check_float(name, low=0.0, finite=True)
        self._check_int("mtu_bytes", low=1)
        self._check_int("header_bytes", low=0)
        if self.mtu_bytes <= self.header_bytes:
            raise ScenarioError(
                "mtu_bytes", f"must be larger than header_bytes ({self.header_bytes}): got {self.mtu_bytes}"
            )
        self._check_int("bitmap_bits_per_rank", low=0)
        self._check_float("switch_replication_GBps", low=0.0, strict=True)
        self._check_float("buffer_bytes", low=0.0, strict=True)
        self._check_int("chunk_bytes", low=1)
        self._check_int("max_chunks_per_message", low=1)
        self._check_int("group_table_entries", low=0)
        self._check_int("tokens_per_rank", low=1)
        self._check_int("token_bytes", low=1)
        self._check_int("experts_per_rank", low=1)
        self._check_int("top_k", low=1)
        if self.top_k > self.ranks * self.experts_per_rank:
            raise ScenarioError(
                "top_k",
                f"must be at most the number of experts, ranks x experts_per_rank = "
                f"{self.ranks * self.experts_per_rank}, got {self.top_k}",
            )
        self._check_float("routing_skew", low=0.0, finite=True)
        self._check_int("seed", low=0)
        if self.model == "flow" and math.isfinite(self.buffer_bytes):
            raise ScenarioError(
                "buffer_bytes", "the flow model has no credit flow control: must be inf with model flow"
            )
        largest_chunk = self.wire_bytes(self.chunk_bytes_for(self.largest_write_bytes), multicast=True)
        if self.buffer_bytes < largest_chunk:
            # A buffer smaller than one simulated chunk could never admit it: the run would stall.
            raise ScenarioError(
                "buffer_bytes",
                f"must hold one chunk on the wire ({largest_chunk} bytes here), got {self.buffer_bytes:g}",
            )

    # --- checks -------------------------------------------------------------------------------
    def _check_choice(self, name: str, allowed: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if value not in allowed:
            extra = f" for collective {self.collective!r}" if name == "algorithm" else ""
            raise ScenarioError(name, f"must be one of {', '.join(allowed)}{extra}, got {value!r}")

    def _check_int(self, name: str, low: int) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ScenarioError(name, f"must be an integer >= {low}, got {value!r}")

    def _check_float(self, name: str, low: float, strict: bool = False, finite: bool = False) -> None:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ScenarioError(name, f"must be a number, got {value!r}")
        if (value <= low if strict else value < low) or (finite and math.isinf(value)):
            bound = f"> {low:g}" if strict else f">= {low:g}"
            raise ScenarioError(name, f"must be {'a finite number ' if finite else ''}{bound}, got {value!r}")

    # --- derived quantities (SI units) ----------------------------------------------------------
    @property
    def node_ranks(self) -> int:
        """Ranks per node (G), with the default resolved: 8 when 8 divides ranks, else all ranks."""
        if self.ranks_per_node is not None:
            return self.ranks_per_node
        return 8 if self.ranks % 8 == 0 else self.ranks

    @property
    def nodes(self) -> int:
        return self.ranks // self.node_ranks

    @property
    def spine_count(self) -> int:
        return self.spines if self.spines is not None else self.node_ranks

    @property
    def link_Bps(self) -> float:
        return self.link_bandwidth_GBps * 1e9

    @property
    def engine_Bps(self) -> float:
        """A rank engine's bandwidth; by default the rank's total link bandwidth (N-1 links on a full mesh)."""
        if self.engine_bandwidth_GBps is not None:
            return self.engine_bandwidth_GBps * 1e9
        links = self.ranks - 1 if self.topology == "fullmesh" else 1
        return links * self.link_Bps

    @property
    def uplink_Bps(self) -> float:
        """Bandwidth of one leaf-to-spine link: a leaf's G rank links share G*B/R over the spines."""
        return self.node_ranks * self.link_Bps / (self.oversubscription * self.spine_count)

    @property
    def multicast_header_bytes(self) -> int:
        """Header of a MultiWrite packet: the plain header plus a destination bitmap."""
        return self.header_bytes + math.ceil(self.ranks * self.bitmap_bits_per_rank / 8)

    @property
    def uses_bitmap(self) -> bool:
        """MultiWrite packets carry the destination bitmap; group multicast a group id in the plain header."""
        return self.algorithm in ("multiwrite", "hierarchical-multiwrite")

    @property
    def largest_write_bytes(self) -> int:
        if self.collective == "allgather":
            return self.message_bytes
        return self.tokens_per_rank * self.token_bytes

    def chunk_bytes_for(self, write_bytes: int) -> int:
        """Payload of one simulated chunk of a write: whole packets, at most max_chunks_per_message chunks."""
        grain = max(self.chunk_bytes, math.ceil(write_bytes / self.max_chunks_per_message))
        return math.ceil(grain / self.mtu_bytes) * self.mtu_bytes

    def wire_bytes(self, payload_bytes: int, multicast: bool = False) -> int:
        """Bytes on the wire for a payload sent as MTU packets, each with its header."""
        packets = math.ceil(payload_bytes / self.mtu_bytes)
        return payload_bytes + packets * (self.multicast_header_bytes if multicast else self.header_bytes)

    def with_(self, **changes: Any) -> Scenario:
        """A validated copy with some fields changed."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def field_help() -> dict[str, str]:
    """Field name -> help text (for the command line)."""
    return {f.name: f.metadata.get("help", "") for f in fields(Scenario)}


__all__ = [
    "ALGORITHMS",
    "ALGORITHMS_FOR",
    "ASSUMPTIONS",
    "COLLECTIVES",
    "ENGINES",
    "MODELS",
    "MULTICAST_ALGORITHMS",
    "PATH_SELECTIONS",
    "ROUTINGS",
    "Scenario",
    "ScenarioError",
    "TOPOLOGIES",
    "field_help",
]
