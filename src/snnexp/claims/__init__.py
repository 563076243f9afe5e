"""A paper's central claims, reproduced in miniature on real data (``snnexp claims``, ``make claims``).

Each claim is an experiment file under ``conf/experiment/claims/<paper>/`` whose ``claim:`` node
states, before anything runs: what the paper says (``paper_says``, quoted or paraphrased) and where
(``source``: table, figure, section), kept apart from our miniature ``test``: the arms compared
(overrides per arm, the same everything else), the seeds, the metric, and the rule (ours, with its
threshold) that decides **holds / does not hold / inconclusive** (:mod:`snnexp.claims.verdict`).
The runner (:mod:`snnexp.claims.run`) trains or analyses every arm for every seed through the
ordinary engine; :mod:`snnexp.claims.render` writes ``claims.md``, ``claims.csv`` and one PNG per claim.
"""
