"""What a benchmark record measures (``extra_info.measure``), and the groups of measures the suite acts on: the
vocabulary the reference configurations, the benchmark suites and the results share."""

from __future__ import annotations


class Measure:
    """``extra_info.measure`` of a benchmark record."""

    BUILD = "build"  # graph construction, tracing, compilation: one cold round
    TRAIN = "train"  # a fresh reference run: final loss, time-to-target, memory
    TRAIN_STEP = "train_step"  # one window: forward, backward, update
    FORWARD = "forward"  # inference on one window
    EPOCH = "epoch"  # one epoch through the training loop
    SCALING = "scaling"  # one train step at a point of a sweep (full profile)
    CALIBRATION = "calibration"  # fixed code that times the machine
    PEAK = "peak"  # the machine's float32 matmul rate at the run's threads: the roofline's ceiling
    GENERATE = "generate"  # the data generator
    MEMORY = "memory"  # a reference training run's peak memory, in a fresh process (full profile)
    DENORMAL = "denormal"  # one train step of the LSTM with normal and with denormal inputs (full profile)
    TRUNCATION = "truncation"  # one train step of BPTT(k2, k1) windows, k1 swept (full profile)



REFERENCE_MEASURES = (Measure.BUILD, Measure.TRAIN, Measure.TRAIN_STEP, Measure.FORWARD, Measure.EPOCH)
MACHINE_MEASURES = (Measure.CALIBRATION, Measure.PEAK)  # time the machine, not an implementation: never judged
# What `rnnbench bench --measure` selects (the calibration probes always run: the gate normalises by them).
SELECTABLE_MEASURES = (*REFERENCE_MEASURES, Measure.MEMORY, Measure.SCALING, Measure.PEAK, Measure.GENERATE,
                       Measure.DENORMAL, Measure.TRUNCATION)
# median / steps
PER_STEP_MEASURES = (Measure.EPOCH, Measure.TRAIN_STEP, Measure.FORWARD, Measure.SCALING, Measure.DENORMAL,
                     Measure.TRUNCATION)
# Measures no profile but the full one runs unless --measure names them: each a benchmark file of its own.
OPT_IN_FILES = {Measure.DENORMAL: "test_denormal.py", Measure.TRUNCATION: "test_truncation_bench.py"}
