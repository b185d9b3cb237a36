<?php
// Sending a CSV campaign from PHP the way smsmode users do: the curl extension with a CURLFile in an array of
// POST fields (curl then sends multipart/form-data), the access token in the URL. Only the base URL differs
// from a program written for smsmode.
//
//   php send_batch.php BASE_URL ACCESS_TOKEN CSV_FILE
//
// The server's answer is written to standard output as received.

list(, $baseUrl, $accessToken, $path) = $argv;
$url = rtrim($baseUrl, '/') . '/sendSMSBatch.do?accessToken=' . urlencode($accessToken) . '&emetteur=Defaut';

$ch = curl_init();
curl_setopt($ch, CURLOPT_URL, $url);
curl_setopt($ch, CURLOPT_POST, true);
curl_setopt($ch, CURLOPT_POSTFIELDS, array('fichier' => new CURLFile($path, 'text/csv', 'campagne.csv')));
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
$answer = curl_exec($ch);
curl_close($ch);

if ($answer === false) {
    fwrite(STDERR, "the request failed\n");
    exit(1);
}
echo $answer;
