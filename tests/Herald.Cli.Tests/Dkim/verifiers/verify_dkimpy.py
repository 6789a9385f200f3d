"""Verifies every .eml of a folder with Debian's python3-dkim, DNS answered from a JSON map {name: txt}.

Prints one line per message: "<file>\t<selector>=<pass|fail>,..." for each DKIM-Signature, top to bottom.
"""
import json
import os
import sys

import dkim


def main():
    folder, records_file = sys.argv[1], sys.argv[2]
    with open(records_file, encoding="utf-8") as f:
        records = {k.lower(): v.encode("ascii") for k, v in json.load(f).items()}

    def dns(name, timeout=5):
        return records.get(name.decode("ascii").rstrip(".").lower())

    for file in sorted(os.listdir(folder)):
        if not file.endswith(".eml"):
            continue
        with open(os.path.join(folder, file), "rb") as f:
            message = f.read()
        verifier = dkim.DKIM(message)
        rows = []
        signatures = [v for (k, v) in verifier.headers if k.lower() == b"dkim-signature"]
        for index, value in enumerate(signatures):
            tags = dkim.util.parse_tag_value(b"".join(value.split()))
            try:
                verdict = "pass" if verifier.verify(idx=index, dnsfunc=dns) else "fail"
            except dkim.DKIMException as error:
                # dkimpy raises for some failures (a body hash mismatch) instead of returning False.
                verdict = "fail (%s)" % str(error).split("(")[0].strip()
            rows.append("%s=%s" % (tags.get(b"s", b"-").decode(), verdict))
        print("%s\t%s" % (file, ",".join(rows)))


if __name__ == "__main__":
    main()
