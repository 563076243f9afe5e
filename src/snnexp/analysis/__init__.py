"""Analyses of SEW Sec. 4.1 / A.3: per-block firing rates of A^l and O^l (Figs. 4, 5, S2) and
gradient norms ||dL/dS^l|| at initialization with and without zero init (Figs. 6-8).

    snnexp analyze firing  [overrides] [ckpt=path/to/last.pt] [--json]
    snnexp analyze gradients [overrides] [compare_blocks=[sew_add,sew_and,sew_iand,spiking]] [--json]

Library use: :func:`analyze` (a JSON-able dict), :func:`measure` (one model, some batches),
:class:`BlockRecorder` (the hooks), :func:`plot_firing` / :func:`plot_gradients` (PNG).
"""

from snnexp.analysis.hooks import BlockRecorder, find_blocks, last_sn  # noqa: F401
from snnexp.analysis.measure import analyze, collect_batches, measure, variant_config  # noqa: F401
from snnexp.analysis.plots import plot_firing, plot_gradients  # noqa: F401
