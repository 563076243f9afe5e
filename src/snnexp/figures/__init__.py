"""Every figure snnexp draws, in one look (:mod:`snnexp.figures.style`).

- :mod:`~snnexp.figures.style`: fonts, sizes, the colour-blind-safe palette, dpi, the accuracy
  axis and saving in the formats of ``plots.format``;
- :mod:`~snnexp.figures.curves`: a run's ``curves.png``;
- :mod:`~snnexp.figures.report`: what ``snnexp report`` tabulates, drawn (paper table, sweep).

The per-block analyses (``analysis/plots.py``, ``analysis/energy_report.py``), accuracy against T
(``analysis/timesteps.py``) and the claims (``claims/render.py``) draw with the same style. Only
matplotlib is imported here, never torch (``snnexp report`` draws without it), and only when a
figure is drawn.
"""
