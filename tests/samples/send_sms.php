<?php
// Sending an SMS from PHP the way smsmode's sample does: the UTF-8 text is converted to ISO-8859-15 with
// iconv, then URL-encoded. Only the base URL differs from a program written for smsmode.
//
//   php send_sms.php BASE_URL ACCESS_TOKEN NUMERO MODE
//
// MODE: "get" (file_get_contents of a URL), "post" (file_get_contents with a POST stream context), "curl"
// (the curl extension, POST of the encoded string) or "curl-array" (the curl extension given the parameters as
// an array, which it posts as multipart/form-data). The server's answer is written to standard output as received.

// The same text as MESSAGE in tests/api/test_client_samples.py (this file is UTF-8).
$message = "Café à 5 €, crème & thé = 7 € (+1) où ?";

list(, $baseUrl, $accessToken, $numero, $mode) = $argv;
$url = rtrim($baseUrl, '/') . '/sendSMS.do';

$fields = 'accessToken=' . urlencode($accessToken)
    . '&numero=' . urlencode($numero)
    . '&message=' . urlencode(iconv('UTF-8', 'ISO-8859-15', $message));

if ($mode === 'get') {
    $answer = file_get_contents($url . '?' . $fields);
} elseif ($mode === 'post') {
    $context = stream_context_create(array('http' => array(
        'method' => 'POST',
        'header' => "Content-Type: application/x-www-form-urlencoded\r\n",
        'content' => $fields,
    )));
    $answer = file_get_contents($url, false, $context);
} elseif ($mode === 'curl') {
    $ch = curl_init();
    curl_setopt($ch, CURLOPT_URL, $url);
    curl_setopt($ch, CURLOPT_POST, true);
    curl_setopt($ch, CURLOPT_POSTFIELDS, $fields);
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    $answer = curl_exec($ch);
    curl_close($ch);
} elseif ($mode === 'curl-array') {
    $ch = curl_init();
    curl_setopt($ch, CURLOPT_URL, $url);
    curl_setopt($ch, CURLOPT_POST, true);
    curl_setopt($ch, CURLOPT_POSTFIELDS, array(
        'accessToken' => $accessToken,
        'numero' => $numero,
        'message' => iconv('UTF-8', 'ISO-8859-15', $message),
    ));
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    $answer = curl_exec($ch);
    curl_close($ch);
} else {
    fwrite(STDERR, "unknown mode $mode\n");
    exit(2);
}

if ($answer === false) {
    fwrite(STDERR, "the request failed\n");
    exit(1);
}
echo $answer;
