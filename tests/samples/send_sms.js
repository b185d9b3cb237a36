// Sending an SMS from Node.js the way smsmode's sample does: a form POST whose text is percent-encoded in
// ISO-8859-15. Node has no Latin-9 encoder, so the sample carries a small one. Only the base URL differs from a
// program written for smsmode.
//
//   node send_sms.js BASE_URL ACCESS_TOKEN NUMERO
//
// The server's answer is written to standard output as received.
'use strict';

const http = require('http');

// The same text as MESSAGE in tests/api/test_client_samples.py.
const message = 'Café à 5 €, crème & thé = 7 € (+1) où ?';

// ISO-8859-15 is Latin-1 with eight code points replaced; these are the characters at those positions.
const LATIN9_SPECIAL = {
  '€': 0xa4, 'Š': 0xa6, 'š': 0xa8, 'Ž': 0xb4, 'ž': 0xb8, 'Œ': 0xbc, 'œ': 0xbd, 'Ÿ': 0xbe,
};
const LATIN1_REPLACED = new Set([0xa4, 0xa6, 0xa8, 0xb4, 0xb8, 0xbc, 0xbd, 0xbe]);

function latin9UrlEncode(text) {
  let encoded = '';
  for (const char of text) {
    if (/^[A-Za-z0-9_.~-]$/.test(char)) {
      encoded += char;
      continue;
    }
    if (char === ' ') {
      encoded += '+';
      continue;
    }
    const code = char.codePointAt(0);
    let byte = LATIN9_SPECIAL[char];
    if (byte === undefined) {
      byte = code < 256 && !LATIN1_REPLACED.has(code) ? code : 0x3f; // "?" when Latin-9 has no such character
    }
    encoded += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return encoded;
}

const [baseUrl, accessToken, numero] = process.argv.slice(2);
const body = [
  'accessToken=' + latin9UrlEncode(accessToken),
  'numero=' + latin9UrlEncode(numero),
  'message=' + latin9UrlEncode(message),
].join('&');

const request = http.request(
  baseUrl.replace(/\/$/, '') + '/sendSMS.do',
  {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'Content-Length': Buffer.byteLength(body),
    },
  },
  (response) => {
    const chunks = [];
    response.on('data', (chunk) => chunks.push(chunk));
    response.on('end', () => {
      process.stdout.write(Buffer.concat(chunks));
      if (response.statusCode !== 200) {
        process.exitCode = 1;
      }
    });
  },
);
request.on('error', (error) => {
  console.error(error.message);
  process.exitCode = 1;
});
request.end(body);
