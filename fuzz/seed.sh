#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/TARGET, not committed) from events/:
# each sample as it is (events/audit.json among them), a copy with the marker tag
# value in its requests' tags, each non-SQS sample wrapped as the body of an SQS
# message (standard and FIFO), and variants of the audit sample: without
# remediation, at the bounds of MaxAgeHours and MaxRemediations, over the harness's
# fleet of tables (more findings than an answer shows), and in an EventBridge
# rule's detail.
# planner_json also gets a few structured inputs ('#' then bytes), sqs_batch a few
# structured batches (bytes not starting with '{'); their sample bodies are built in.
set -euo pipefail
cd "$(dirname "$0")"
python3 - <<'PY'
import glob, json, os, random

MARKER = "tag-secret-0451"

def tagged(event):
    """A copy whose every request carries the marker as a tag value."""
    event = json.loads(json.dumps(event))
    def request(r):
        if isinstance(r, dict) and ("ResourceArn" in r or "RecoveryPointArn" in r or "Selection" in r):
            r["RecoveryPointTags"] = {"team": MARKER, "owner": MARKER}
    def list_or_request(v):
        if isinstance(v, dict):
            request(v)
            for job in v.get("Jobs", []) if isinstance(v.get("Jobs"), list) else []:
                request(job)
    list_or_request(event)
    list_or_request(event.get("detail"))
    for record in event.get("Records", []):
        body = json.loads(record["body"])
        record["body"] = json.dumps(tagged(body))
    return event

def sqs(bodies, fifo):
    queue = "arn:aws:sqs:eu-west-1:123456789012:requests" + (".fifo" if fifo else "")
    return {"Records": [{
        "messageId": f"m-{i}", "receiptHandle": "AQEB", "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue, "awsRegion": "eu-west-1",
    } for i, body in enumerate(bodies)]}

samples = {}
for path in sorted(glob.glob("../events/*.json")):
    with open(path) as f:
        samples[os.path.basename(path)[:-5]] = json.load(f)

originals = set(samples)

def audit(**changes):
    """The audit sample with fields of its Audit (None: removed) or of the event changed."""
    event = json.loads(json.dumps(samples["audit"]))
    for key, value in changes.items():
        target = event["Audit"] if key in ("MaxAgeHours", "Remediate", "MaxRemediations") else event
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return event

fleet = {"Resources": ["arn:aws:dynamodb:*:*:table/*"], "Conditions": {"StringEquals": [
    {"ConditionKey": "aws:ResourceTag/stage", "ConditionValue": "fleet"}]}}
samples["audit-report-only"] = audit(Remediate=False)
samples["audit-one-hour"] = audit(MaxAgeHours=1, MaxRemediations=1)
samples["audit-one-year"] = audit(MaxAgeHours=8760, MaxRemediations=None)
samples["audit-too-many"] = audit(MaxRemediations=100000)
samples["audit-fleet"] = audit(Selection=fleet, MaxRemediations=150)
samples["audit-everything"] = audit(Selection={"Resources": ["*"]}, MaxAgeHours=48, MaxRemediations=None)
samples["eventbridge-audit"] = {
    "version": "0", "id": "7bf73129-1428-4cd3-a780-95db273d1602", "detail-type": "Scheduled Event",
    "source": "aws.events", "account": "123456789012", "time": "2026-11-22T09:00:00Z", "region": "eu-west-1",
    "resources": [], "detail": samples["audit"]}

seeds = {}
for name, event in samples.items():
    seeds[name] = event
    seeds[name + "-tagged"] = tagged(event)
singles = {n: e for n, e in samples.items() if "Records" not in e}
for name, event in singles.items():
    seeds["sqs-" + name] = sqs([event], False)
    seeds["sqs-fifo-" + name] = sqs([event], True)
    seeds["sqs-" + name + "-tagged"] = sqs([tagged(event)], False)
# The samples of events/ in one batch; the audit variants stay out of it (two of
# them audit the whole fleet: a batch of them would be the slowest input by far).
files = [e for n, e in singles.items() if n in originals]
seeds["sqs-all"] = sqs(files, False)
seeds["sqs-fifo-all"] = sqs([tagged(e) for e in files], True)

rng = random.Random(451)
for target in ("handler_bytes", "planner_json", "sqs_batch"):
    os.makedirs(f"corpus/{target}", exist_ok=True)
    for name, event in seeds.items():
        with open(f"corpus/{target}/{name}.json", "w") as f:
            json.dump(event, f)
    if target == "handler_bytes":
        pass
    else:
        for i in range(16):
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(16, 512)))
            data = (b"#" if target == "planner_json" else b"\0") + data
            with open(f"corpus/{target}/structured-{i}", "wb") as f:
                f.write(data)
    print(target, len(os.listdir(f"corpus/{target}")), "seeds")
PY
