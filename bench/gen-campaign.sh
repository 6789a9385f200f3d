#!/usr/bin/env bash
# Writes the standard benchmark campaign into OUT_DIR: campaign.yml, body.html (bench/standard/body.html: ~50 kB
# rendered, 8 recommended products, ~20 tracked links, open pixel, text part derived), recipients.csv (N rows) and
# recommendations.csv (8 rows per recipient, joined in prepare as `products`). Deterministic: same arguments, same bytes.
# Usage: bench/gen-campaign.sh OUT_DIR RECIPIENTS RELAY_URL CONNECTIONS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?OUT_DIR}; n=${2:?RECIPIENTS}; relay=${3:?RELAY_URL}; connections=${4:?CONNECTIONS}
mkdir -p "$out"
cp "$here/standard/body.html" "$out/body.html"
cat >"$out/campaign.yml" <<YAML
# The standard benchmark campaign (bench/run.sh): recommendations joined per recipient at prepare time.
id: bench-standard
from: "Example Shop <news@shop.example.com>"
reply_to: "help@shop.example.com"
subject: "{{ first_name }}, 8 picks for you in {{ city }}"
html: body.html
recipients: recipients.csv
headers:
  X-Campaign-Segment: "{{ segment }}"
data:
  products:
    file: recommendations.csv
    key: customer_id
    recipient_key: id
    many: true
    limit: 8
    required: true
tracking:
  base_url: "https://t.shop.example.com"
  clicks: true
  opens: true
unsubscribe:
  mailto: "unsubscribe@shop.example.com"
postal_address: "Example Shop Inc., 1 Market St, Springfield"
relays:
  - url: $relay
    connections: $connections
    starttls: none
YAML
# One awk pass writes both files; integer arithmetic only, so the output is the same everywhere.
LC_ALL=C awk -v n="$n" -v out="$out" 'BEGIN {
    split("Ada Ben Chloé Dmitri Elena Farid Grace Hiro Inès Jonas Kemi Liam Mei Noah Olga Pablo Quinn Rosa Sven Tara Umar Vera Wen Xavier Yara Zoë", first, " ")
    split("Smith García Müller Rossi Kowalski Nguyen Okafor Silva Tanaka Jensen Dubois Novak Haddad Kim Larsen Moreau Petrov Quist Reyes Schmidt", last, " ")
    split("Springfield Lyon Porto Kraków Osaka Austin Leeds Graz", city, " ")
    split("garden kitchen outdoor home", segment, " ")
    split("Linen Throw|Stoneware Mug|Cedar Planter|Copper Watering Can|Wool Picnic Rug|Cast Iron Skillet|Rattan Lantern|Herb Garden Kit|Oak Cutting Board|Enamel Kettle|Jute Doormat|Glass Carafe|Bamboo Steamer|Canvas Tote|Beeswax Candle|Garden Kneeler", noun, "|")
    split("Sage|Clay|Moss|Sand|Ink|Rust|Oat|Slate", colour, "|")
    split("Soft washed linen in seasonal colours, warm enough for cool evenings on the porch.|Hand-glazed and oven-safe; it keeps coffee hot and looks good on every shelf.|Untreated and weathering to silver, with drainage holes and feet already in place.|A long brass spout for precise watering of seedlings, pots and hanging baskets.|Thick wool with a waterproof backing that rolls up with a leather carry strap.|Pre-seasoned and oven-safe to 260 °C; it only gets better with every meal.|Hand-woven around a warm LED, for tables, steps and garden paths at dusk.|Organic soil, seeds and a recycled tin for the sunniest windowsill you have.", blurb, "|")
    rec = out "/recipients.csv"; prod = out "/recommendations.csv"
    print "id,email,first_name,last_name,city,segment" > rec
    print "customer_id,rank,sku,name,price,reviews,blurb" > prod
    for (i = 0; i < n; i++) {
        f = first[i % 26 + 1]; l = last[int(i / 26) % 20 + 1]
        printf "%d,customer%d@shop%d.example.com,%s,%s,%s,%s\n", i, i, i % 97, f, l, city[int(i / 7) % 8 + 1], segment[int(i / 3) % 4 + 1] > rec
        for (r = 1; r <= 8; r++) {
            p = (i * 7919 + r * 104729) % 5000
            printf "%d,%d,SKU-%05d,%s %s,%d.%02d,%d,\"%s\"\n", i, r, p, colour[p % 8 + 1], noun[int(p / 8) % 16 + 1], 9 + p % 190, (p * 37) % 100, 12 + (p * 13) % 900, blurb[int(p / 3) % 8 + 1] > prod
        }
    }
}'
