namespace Herald.Campaigns;

/// <summary>The sample campaign's templates (kept apart from the generator, which stays short).</summary>
internal static class SampleTemplates
{
    public const string Html = """
        <!DOCTYPE html>
        <html lang="en" xmlns="http://www.w3.org/1999/xhtml" xmlns:o="urn:schemas-microsoft-com:office:office">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <meta http-equiv="X-UA-Compatible" content="IE=edge">
          <meta name="x-apple-disable-message-reformatting">
          <title>Your spring picks</title>
          <!--[if mso]><style>table, td, div, h1, p { font-family: Arial, sans-serif; }</style><![endif]-->
          <style>
            body { margin: 0; padding: 0; background-color: #f4f1ec; -webkit-text-size-adjust: 100%; -ms-text-size-adjust: 100%; }
            table { border-collapse: collapse; mso-table-lspace: 0pt; mso-table-rspace: 0pt; }
            img { border: 0; height: auto; line-height: 100%; outline: none; text-decoration: none; -ms-interpolation-mode: bicubic; }
            a { color: #2f6b4f; text-decoration: underline; }
            .wrapper { width: 100%; table-layout: fixed; background-color: #f4f1ec; padding-bottom: 40px; }
            .main { background-color: #ffffff; margin: 0 auto; width: 100%; max-width: 640px; border-spacing: 0; font-family: Georgia, 'Times New Roman', serif; color: #2b2b2b; }
            .preheader { display: none !important; visibility: hidden; opacity: 0; color: transparent; height: 0; width: 0; overflow: hidden; mso-hide: all; }
            .nav a { color: #2b2b2b; text-decoration: none; font-family: Helvetica, Arial, sans-serif; font-size: 13px; letter-spacing: 1px; text-transform: uppercase; padding: 0 10px; }
            .hero h1 { font-size: 34px; line-height: 40px; margin: 0 0 12px 0; font-weight: normal; }
            .hero p { font-size: 17px; line-height: 26px; margin: 0 0 20px 0; }
            .button { background-color: #2f6b4f; border-radius: 4px; color: #ffffff !important; display: inline-block; font-family: Helvetica, Arial, sans-serif; font-size: 15px; font-weight: bold; line-height: 46px; text-align: center; text-decoration: none; width: 220px; -webkit-text-size-adjust: none; }
            .product-name { font-size: 18px; line-height: 24px; margin: 8px 0 4px 0; }
            .product-price { font-family: Helvetica, Arial, sans-serif; font-size: 15px; color: #2f6b4f; font-weight: bold; }
            .product-copy { font-size: 14px; line-height: 21px; color: #555555; }
            .footer { font-family: Helvetica, Arial, sans-serif; font-size: 12px; line-height: 18px; color: #8a8a8a; text-align: center; }
            .footer a { color: #8a8a8a; }
            @media screen and (max-width: 600px) {
              .column { width: 100% !important; display: block !important; }
              .hero h1 { font-size: 28px !important; line-height: 34px !important; }
              .button { width: 100% !important; }
              .mobile-hide { display: none !important; }
              .mobile-pad { padding-left: 16px !important; padding-right: 16px !important; }
            }
            @media (prefers-color-scheme: dark) {
              .main { background-color: #1e1e1e !important; color: #eeeeee !important; }
              .wrapper { background-color: #111111 !important; }
              .product-copy { color: #bbbbbb !important; }
            }
          </style>
        </head>
        <body>
        {% assign names = "Linen Throw Blanket,Stoneware Mug Set,Cedar Planter Box,Copper Watering Can,Wool Picnic Rug,Cast Iron Skillet,Rattan Lantern,Herb Garden Kit" | split: "," %}
        {% assign blurbs = "Soft washed linen in four seasonal colours; warm enough for cool evenings on the porch.|Hand-glazed stoneware that keeps coffee hot and looks good on every shelf in the house.|Untreated cedar that weathers to silver; drainage holes and feet are already in place.|A long brass spout for precise watering of seedlings, pots and hanging baskets.|Thick Shetland wool with a waterproof backing, rolls up with a leather carry strap.|Pre-seasoned and oven-safe to 260 °C, it only gets better with every meal you cook.|Hand-woven rattan around a warm LED, for tables, steps and garden paths at dusk.|Basil, thyme, parsley and chives with organic soil and a recycled tin for the windowsill." | split: "|" %}
        <div class="preheader">New arrivals picked for you, {{ first_name }}: free delivery over 50 € this week only.</div>
        <center class="wrapper">
          <table class="main" role="presentation" width="100%">
            <tr>
              <td style="padding: 12px 24px; font-family: Helvetica, Arial, sans-serif; font-size: 12px; color: #8a8a8a; text-align: right;" class="mobile-pad">
                Trouble reading this email? <a href="https://shop.example.com/newsletter/spring-2026?ref=email" style="color: #8a8a8a;">View it in your browser</a>
              </td>
            </tr>
            <tr>
              <td style="padding: 24px 24px 8px 24px; text-align: center;" class="mobile-pad">
                <a href="https://shop.example.com/?utm_source=herald&amp;utm_medium=email&amp;utm_campaign={{ campaign.id }}"><img src="https://shop.example.com/static/email/logo.png" width="180" height="48" alt="Example Shop" style="display: block; margin: 0 auto;"></a>
              </td>
            </tr>
            <tr>
              <td class="nav" style="padding: 8px 24px 20px 24px; text-align: center; border-bottom: 1px solid #e8e2d8;">
                <a href="https://shop.example.com/garden?utm_source=herald&amp;utm_medium=email">Garden</a>
                <a href="https://shop.example.com/kitchen?utm_source=herald&amp;utm_medium=email">Kitchen</a>
                <a href="https://shop.example.com/outdoor?utm_source=herald&amp;utm_medium=email">Outdoor</a>
                <a href="https://shop.example.com/home?utm_source=herald&amp;utm_medium=email">Home</a>
                <a href="https://shop.example.com/sale?utm_source=herald&amp;utm_medium=email" style="color: #b0413e;">Sale</a>
              </td>
            </tr>
            <tr>
              <td class="hero mobile-pad" style="padding: 36px 40px 28px 40px; text-align: center;">
                <img src="https://shop.example.com/static/email/spring-hero.jpg" width="560" height="280" alt="Spring in the garden" style="display: block; width: 100%; max-width: 560px; margin: 0 auto 24px auto;">
                <h1>Hello {{ first_name }}, spring is here</h1>
                <p>We picked eight new arrivals for the {{ segment }} lovers of {{ city }}. Order before Sunday and delivery is on us for every order over 50 €.</p>
                <a class="button" href="https://shop.example.com/{{ segment }}/new?utm_source=herald&amp;utm_medium=email&amp;utm_content=hero">Shop the {{ segment }} edit</a>
              </td>
            </tr>
            <tr>
              <td style="padding: 0 24px;" class="mobile-pad">
                <table role="presentation" width="100%">
                  {% for n in (1..8) %}
                  {% assign idx = forloop.index0 %}
                  {% assign col = idx | modulo: 2 %}{% if col == 0 %}<tr>{% endif %}
                    <td class="column" width="50%" valign="top" style="padding: 12px; vertical-align: top;">
                      <table role="presentation" width="100%" style="border: 1px solid #eee8de; border-radius: 6px;">
                        <tr>
                          <td style="padding: 0;">
                            <a href="https://shop.example.com/{{ segment }}/item-{{ n }}?utm_source=herald&amp;utm_medium=email&amp;utm_content=product-{{ n }}"><img src="https://shop.example.com/static/products/{{ segment }}-{{ n }}.jpg" width="268" height="200" alt="{{ names[idx] }}" style="display: block; width: 100%; border-radius: 6px 6px 0 0;"></a>
                          </td>
                        </tr>
                        <tr>
                          <td style="padding: 14px 16px 18px 16px;">
                            <p class="product-name" style="font-size: 18px; line-height: 24px; margin: 8px 0 4px 0;">{{ names[idx] }}</p>
                            <p class="product-price" style="font-family: Helvetica, Arial, sans-serif; font-size: 15px; color: #2f6b4f; font-weight: bold; margin: 0 0 8px 0;">{{ n | times: 7 | plus: 12.9 }} €</p>
                            <p class="product-copy" style="font-size: 14px; line-height: 21px; color: #555555; margin: 0 0 12px 0;">{{ blurbs[idx] }}</p>
                            <table role="presentation" width="100%" style="margin: 0 0 12px 0;">
                      <tr>
                        <td style="font-family: Helvetica, Arial, sans-serif; font-size: 13px; color: #b8860b; padding: 0 0 6px 0;">★★★★☆ <span style="color: #8a8a8a;">({{ n | times: 37 | plus: 12 }} reviews from customers in {{ city }} and beyond)</span></td>
                      </tr>
                      <tr>
                        <td style="font-family: Helvetica, Arial, sans-serif; font-size: 13px; line-height: 19px; color: #555555; padding: 0;">
                          <strong style="color: #2b2b2b;">Why we love it</strong>
                          <ul style="margin: 4px 0 0 18px; padding: 0;">
                            <li style="margin: 0 0 3px 0;">Made in small batches by a family workshop we have worked with for years</li>
                            <li style="margin: 0 0 3px 0;">Packed without plastic, in recycled cardboard you can compost</li>
                            <li style="margin: 0;">Covered by our 60-day no-questions returns and a two-year guarantee</li>
                          </ul>
                        </td>
                      </tr>
                      <tr>
                        <td style="padding: 8px 0 0 0;">
                          <span style="display: inline-block; width: 14px; height: 14px; border-radius: 7px; background-color: #d8cbb3; border: 1px solid #cccccc;">&nbsp;</span>
                          <span style="display: inline-block; width: 14px; height: 14px; border-radius: 7px; background-color: #7d8f69; border: 1px solid #cccccc;">&nbsp;</span>
                          <span style="display: inline-block; width: 14px; height: 14px; border-radius: 7px; background-color: #a0522d; border: 1px solid #cccccc;">&nbsp;</span>
                          <span style="display: inline-block; width: 14px; height: 14px; border-radius: 7px; background-color: #2f4f4f; border: 1px solid #cccccc;">&nbsp;</span>
                          <span style="font-family: Helvetica, Arial, sans-serif; font-size: 12px; color: #8a8a8a; padding-left: 6px;">4 colours</span>
                        </td>
                      </tr>
                    </table>
                    <table role="presentation" style="margin: 0;"><tr><td style="border-radius: 4px; background-color: #f4f1ec; padding: 8px 14px; font-family: Helvetica, Arial, sans-serif; font-size: 13px;">In stock · ships in 2 days from our {{ city }} partner</td></tr></table>
                          </td>
                        </tr>
                      </table>
                    </td>
                  {% if col == 1 %}</tr>{% endif %}
                  {% endfor %}
                </table>
              </td>
            </tr>
            <tr>
              <td style="padding: 28px 40px; text-align: center;" class="mobile-pad">
                <a class="button" href="https://shop.example.com/new-arrivals?utm_source=herald&amp;utm_medium=email&amp;utm_content=all">See all new arrivals</a>
              </td>
            </tr>
            <tr>
              <td style="padding: 24px 40px; background-color: #faf8f4; font-family: Helvetica, Arial, sans-serif; font-size: 14px; line-height: 22px; color: #555555;" class="mobile-pad">
                <table role="presentation" width="100%">
                  <tr>
                    <td class="column" width="33%" valign="top" style="padding: 8px; text-align: center;"><strong>Free delivery</strong><br>on orders over 50 €</td>
                    <td class="column" width="33%" valign="top" style="padding: 8px; text-align: center;"><strong>60-day returns</strong><br><a href="https://shop.example.com/help/returns">how returns work</a></td>
                    <td class="column" width="33%" valign="top" style="padding: 8px; text-align: center;"><strong>Questions?</strong><br><a href="mailto:help@shop.example.com">help@shop.example.com</a> or <a href="tel:+15550100">+1 555 0100</a></td>
                  </tr>
                </table>
              </td>
            </tr>
            <tr>
              <td class="footer mobile-pad" style="padding: 28px 40px 36px 40px; font-family: Helvetica, Arial, sans-serif; font-size: 12px; line-height: 18px; color: #8a8a8a; text-align: center;">
                <p style="margin: 0 0 12px 0;">
                  <a href="https://social.example.com/exampleshop">Instagram</a> ·
                  <a href="https://video.example.com/exampleshop">Video</a> ·
                  <a href="https://blog.shop.example.com/?utm_source=herald">Journal</a> ·
                  <a href="#top">Back to top</a>
                </p>
                <p style="margin: 0 0 12px 0;">You receive this email at {{ email }} because you signed up at shop.example.com.
                  <a href="{{ unsubscribe_url }}">Unsubscribe</a> in one click, or <a href="https://shop.example.com/account/preferences?r={{ recipient_id }}" data-herald-notrack>change your preferences</a>.</p>
                <p style="margin: 0;">{{ postal_address }}</p>
              </td>
            </tr>
          </table>
        </center>
        </body>
        </html>
        """;
}
