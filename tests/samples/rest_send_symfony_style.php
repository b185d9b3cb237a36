<?php
// A REST send as Symfony Notifier's smsmode bridge makes it: POST /sms/v1/messages with the key in X-Api-Key,
// `Accept: application/json`, and a JSON body encoded the way Symfony's HTTP client encodes its `json` option
// (json_encode escaping every non-ASCII character as \uXXXX, an emoji as a surrogate pair, and `<`, `>`, `&`,
// `'` and `"` as well), empty options left out. Only the base URL differs from a program written for smsmode.
//
//   php rest_send_symfony_style.php BASE_URL API_KEY PHONE FROM REF_CLIENT SENT_DATE
//
// SENT_DATE may be empty (sent now). Writes the HTTP status, a newline, then the answer's body.

// The same text as REST_MESSAGE in tests/api/test_client_samples.py (this file is UTF-8).
$text = "Café <b> & \"ok\" l'été 😀 €";

list(, $baseUrl, $apiKey, $phone, $from, $refClient, $sentDate) = $argv;

$options = array('refClient' => $refClient, 'sentDate' => $sentDate);
$options['body']['text'] = $text;
$options['recipient']['to'] = $phone;
$options['from'] = $from;
$flags = JSON_HEX_TAG | JSON_HEX_APOS | JSON_HEX_AMP | JSON_HEX_QUOT | JSON_PRESERVE_ZERO_FRACTION;
$body = json_encode(array_filter($options), $flags);

$ch = curl_init(rtrim($baseUrl, '/') . '/sms/v1/messages');
curl_setopt($ch, CURLOPT_POST, true);
curl_setopt($ch, CURLOPT_POSTFIELDS, $body);
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt($ch, CURLOPT_HTTPHEADER, array(
    'X-Api-Key: ' . $apiKey,
    'Accept: application/json',
    'Content-Type: application/json',
));
$answer = curl_exec($ch);
if ($answer === false) {
    fwrite(STDERR, "the request failed: " . curl_error($ch) . "\n");
    exit(1);
}
echo curl_getinfo($ch, CURLINFO_HTTP_CODE), "\n", $answer;
