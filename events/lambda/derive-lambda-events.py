#!/usr/bin/env python3
"""Writes the Lambda events in events/lambda/ for `cargo lambda invoke --data-file`.

Each wraps a real delivery of the bundled scenario (events/github/scenario/, byte for byte) the way
AWS hands it to the function:
- github-webhook.json: a Function URL request, signed with the local default webhook secret
  (`scantix-local-secret`, what `scantix` and the README's local runs use);
- worker.json: a DynamoDB stream batch with that delivery's inbox item as the webhook function
  writes it (metadata in `doc`, the body gzip-compressed in `body`);
- sweeper.json: an EventBridge scheduled event.

Run from the repository root: python3 events/lambda/derive-lambda-events.py
"""

import base64
import gzip
import hashlib
import hmac
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "events" / "lambda"
DELIVERY = ROOT / "events" / "github" / "scenario" / "02-code_scanning_alert.created.json"
SECRET = b"scantix-local-secret"
DELIVERY_ID = "7d2c9b2e-0c8f-4f7e-9a53-2b1f4c7e5a10"
RECEIVED_AT = "2026-11-22T12:00:00.000000000Z"
EXPIRES_AT = "2026-12-06T12:00:00.000000000Z"
EXPIRES_EPOCH = "1796644800"

body = DELIVERY.read_bytes()
signature = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()

function_url_request = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/",
    "rawQueryString": "",
    "headers": {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/scantix-sample",
        "x-github-event": "code_scanning_alert",
        "x-github-delivery": DELIVERY_ID,
        "x-github-hook-id": "1",
        "x-hub-signature-256": signature,
    },
    "requestContext": {
        "accountId": "anonymous",
        "apiId": "scantix",
        "domainName": "scantix.lambda-url.eu-west-1.on.aws",
        "domainPrefix": "scantix",
        "http": {
            "method": "POST",
            "path": "/",
            "protocol": "HTTP/1.1",
            "sourceIp": "192.0.2.1",
            "userAgent": "GitHub-Hookshot/scantix-sample",
        },
        "requestId": DELIVERY_ID,
        "routeKey": "$default",
        "stage": "$default",
        "time": "22/Nov/2026:12:00:00 +0000",
        "timeEpoch": 1795867200000,
    },
    "body": body.decode("utf-8"),
    "isBase64Encoded": False,
}

inbox_id = f"github:{DELIVERY_ID}"
doc = {
    "id": inbox_id,
    "source": "github",
    "event": "code_scanning_alert",
    "received_at": RECEIVED_AT,
    "expires_at": EXPIRES_AT,
    "body": "",
    "status": "pending",
    "attempts": 0,
    "last_error": None,
}
image = {
    "pk": {"S": f"IN#{inbox_id}"},
    "sk": {"S": "IN"},
    "kind": {"S": "inbox"},
    "doc": {"S": json.dumps(doc, separators=(",", ":"))},
    "body": {"B": base64.b64encode(gzip.compress(body, mtime=0)).decode("ascii")},
    "status": {"S": "pending"},
    "attempts": {"N": "0"},
    "pending": {"S": "pending"},
    "received_at": {"S": RECEIVED_AT},
    "ttl": {"N": EXPIRES_EPOCH},
}
stream_batch = {
    "Records": [
        {
            "eventID": "c81e728d9d4c2f636f067f89cc14862c",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "eu-west-1",
            "dynamodb": {
                "ApproximateCreationDateTime": 1795867200,
                "Keys": {"pk": image["pk"], "sk": image["sk"]},
                "NewImage": image,
                "SequenceNumber": "111100000000000000000001",
                "SizeBytes": len(json.dumps(image)),
                "StreamViewType": "NEW_IMAGE",
            },
            "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/scantix-Table/stream/2026-11-22T00:00:00.000",
        }
    ]
}

scheduled = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T12:00:00Z",
    "region": "eu-west-1",
    "resources": ["arn:aws:events:eu-west-1:123456789012:rule/scantix-sweep"],
    "detail": {},
}

for name, event in [
    ("github-webhook.json", function_url_request),
    ("worker.json", stream_batch),
    ("sweeper.json", scheduled),
]:
    (OUT / name).write_text(json.dumps(event, indent=2) + "\n")
    print(f"wrote events/lambda/{name}")
