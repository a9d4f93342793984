"""The SQL path: relations ``sendtime_*`` agree with the polars path and with the generator."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from sendtime_data import programme

from smsanalytics.sendtime import SendTimeModel, label_responses
from smsanalytics.sendtime.history import load_send_history, send_hours_sql
from smsanalytics.warehouse import Warehouse


def test_sql_history_matches_polars_labels_and_generator_hours() -> None:
    prog = programme(3000, 0)
    as_of = prog.as_of - dt.timedelta(days=60)
    with Warehouse(":memory:") as wh:
        for name, frame in prog.tables().items():
            wh.load(name, frame, source="synth")
        sends, contacts = load_send_history(wh, as_of=as_of)
        hours = send_hours_sql(wh, as_of=as_of)
    ref = label_responses(
        prog.messages.filter(pl.col("sent_at") < as_of),
        prog.clicks.filter(pl.col("clicked_at") < as_of),
        receipts=prog.receipts.filter(pl.col("status_at") < as_of),
    )
    both = ref.join(
        sends.select("message_id", pl.col("is_response").alias("sql")), on="message_id", how="full"
    )
    assert both.height == ref.height == sends.height
    assert (both["is_response"] == both["sql"]).all()
    truth = hours.join(
        prog.truth_messages.select("message_id", "local_hour_of_week"), on="message_id"
    )
    assert truth.height == hours.height == sends.height
    assert (truth["local_hour_of_week"] == truth["local_hour_of_week_right"]).all()
    assert contacts.columns == ["contact_id", "timezone", "country", "is_opted_out"]
    from_sql = SendTimeModel().fit(sends, contacts=contacts)
    from_frames = SendTimeModel().fit(
        prog.messages.filter(pl.col("sent_at") < as_of),
        prog.clicks.filter(pl.col("clicked_at") < as_of),
        contacts=contacts,
        receipts=prog.receipts.filter(pl.col("status_at") < as_of),
    )
    ids = contacts["contact_id"]
    assert np.allclose(
        from_sql.predict_scores(ids), from_frames.predict_scores(ids), equal_nan=True
    )
