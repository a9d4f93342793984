"""Phone numbers live in contacts only: not in quarantine, loads, event tables or reports."""

from __future__ import annotations

import dataclasses
import json

from conftest import FIXTURES, assert_no_phone

from smsanalytics.ingest import ingest_file

PHONES = [
    "+33600000001",
    "06 00 00 00 02",
    "+33 6 00 00 00 03",
    "0600000004",
    "+12025550143",
    "+33600000099",
    "+33757000001",
    "3.3600000005E+10",
    "06 00 CALL 78",
    "+33 6 00 00 00 06 77",
]


def test_ingest_phone_numbers_stay_in_contacts(wh, write):
    contacts = (
        "contact_id,phone,Other phone,notes\n"
        f"C1,{PHONES[0]},{PHONES[5]},call me on 06 00 00 00 09\n"
        f"C2,{PHONES[1]},,\n"
        f"C3,{PHONES[2]},,\n"
        f"C4,{PHONES[3]},,\n"
        f"C5,{PHONES[4]},,\n"
        f"C6,{PHONES[7]},,\n"
        f"C7,{PHONES[8]},,\n"
        f"C8,{PHONES[9]},,\n"
        f"C9,{PHONES[1]},,\n"  # duplicate number
        f"C10,{PHONES[0]},,too,many,fields\n"  # ragged
    )
    reports = [ingest_file(wh, "contacts", write("c.csv", contacts))]
    reports.append(
        ingest_file(
            wh,
            "inbound",
            write(
                "i.csv",
                f"phone,received_at,body\n{PHONES[5]},2024-03-01T10:00:00Z,STOP\n{PHONES[0]},2024-03-01T10:00:00Z,STOP\n",
            ),
        )
    )
    reports.append(
        ingest_file(
            wh,
            "orders",
            write(
                "o.csv",
                f"order_id,phone,ordered_at,amount\nO1,{PHONES[1]},2024-03-01,10\nO2,{PHONES[6]},2024-03-01,20\n",
            ),
        )
    )
    reports.append(ingest_file(wh, "twilio", FIXTURES / "twilio_message_log.csv"))
    assert wh.counts()["quarantine"] >= 6

    everything = PHONES + ["06 00 00 00 09"]
    for name, count in wh.counts().items():
        if name == "contacts" or count == 0:
            continue
        text = wh.table(name).write_csv()
        if name in ("messages", "inbound"):
            text = wh.table(name).drop("body").write_csv()  # message text is the user's own copy
        assert_no_phone(text, everything)
    for report in reports:
        assert_no_phone(json.dumps(dataclasses.asdict(report), default=str), everything)
    # the extra phone column was not copied to attributes, the free-text note was kept
    attrs = wh.table("contacts").filter(wh.table("contacts")["external_id"] == "C1")["attributes"][
        0
    ]
    assert json.loads(attrs) == {"notes": "call me on 06 00 00 00 09"}
