<?php
// Calling smsmode's sub-account endpoints from PHP the way its samples do: every value converted from UTF-8 to
// ISO-8859-15 with iconv, URL-encoded, and POSTed as a form with the curl extension. Only the base URL differs
// from a program written for smsmode.
//
//   php subaccounts.php URL name=value [name=value...]
//
// URL is the endpoint's full address (…/http/1.6/createSubAccount.do). The answer is written to standard output
// as received.

$url = $argv[1];
$pairs = array();
foreach (array_slice($argv, 2) as $argument) {
    list($name, $value) = explode('=', $argument, 2);
    $pairs[] = $name . '=' . urlencode(iconv('UTF-8', 'ISO-8859-15', $value));
}

$ch = curl_init();
curl_setopt($ch, CURLOPT_URL, $url);
curl_setopt($ch, CURLOPT_POST, true);
curl_setopt($ch, CURLOPT_POSTFIELDS, implode('&', $pairs));
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
$answer = curl_exec($ch);
curl_close($ch);

if ($answer === false) {
    fwrite(STDERR, "the request failed\n");
    exit(1);
}
echo $answer;
