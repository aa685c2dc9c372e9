"""Writes tensorboard.tfevents, the golden of TensorBoardLog (ReportTests.swift), with the
`tensorboard` package's own protobufs and record writer, then reads it back with its event
reader and checks that it holds what was written.

    pip install tensorboard && python3 Tests/TrainingTests/golden/make_tensorboard_golden.py
    python3 Tests/TrainingTests/golden/make_tensorboard_golden.py --read RUN_DIR/events.out.tfevents.*

The events (and wall times) are the ones the Swift test writes: the file version, two logged
steps, and the SessionLog START of a run resumed at step 300.  With --read, prints what
TensorBoard's reader finds in any event file instead (to check a real run's file).
"""

import os
import sys

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(HERE, "tensorboard.tfevents")

STEPS = [
    (1001.25, 0, {"eval/accuracy": 0.5, "loss/train": 1.25}),
    (1002.0, 25, {"loss/train": 0.375, "reward/mean": 0.0}),
]


def events():
    yield event_pb2.Event(wall_time=1000.5, file_version="brain.Event:2")
    for wall, step, values in STEPS:
        summary = summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=k, simple_value=values[k]) for k in sorted(values)]
        )
        yield event_pb2.Event(wall_time=wall, step=step, summary=summary)
    yield event_pb2.Event(wall_time=1003.75, file_version="brain.Event:2")
    yield event_pb2.Event(
        wall_time=1004.0, step=300, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    )


def read(path):
    """What TensorBoard's reader finds: (wall_time, step, what) per event."""
    out = []
    for event in EventFileLoader(path).Load():
        if event.HasField("file_version"):
            what = event.file_version
        elif event.HasField("session_log"):
            what = "session_log " + event_pb2.SessionLog.SessionStatus.Name(event.session_log.status)
        else:
            # The loader, as TensorBoard's server does, turns simple_value into a scalar tensor.
            what = {v.tag: tensor_util.make_ndarray(v.tensor).item() for v in event.summary.value}
        out.append((event.wall_time, event.step, what))
    return out


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--read":
        for path in sys.argv[2:]:
            for event in read(path):
                print(*event)
        sys.exit(0)
    with open(GOLDEN, "wb") as f:
        writer = RecordWriter(f)
        for event in events():
            writer.write(event.SerializeToString())
    expected = [(e.wall_time, e.step) for e in events()]
    found = read(GOLDEN)
    assert [(w, s) for w, s, _ in found] == expected, found
    assert found[1][2] == STEPS[0][2] and found[2][2] == STEPS[1][2], found
    assert found[4][2] == "session_log START", found
    print(f"wrote {GOLDEN} ({os.path.getsize(GOLDEN)} bytes); TensorBoard's reader reads:")
    for event in found:
        print(*event)
