"""The FineWeb-Edu decoder-only language-model workload (`finewebedu_lm`)."""
