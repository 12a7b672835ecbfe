"""AlgoPerf scoring: trial records to time-to-target, performance profiles and scores."""
