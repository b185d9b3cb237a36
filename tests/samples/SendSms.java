// Sending an SMS from Java the way smsmode's sample does: URLEncoder with ISO-8859-15 and a form POST through
// HttpURLConnection. Only the base URL differs from a program written for smsmode.
//
//   javac -encoding UTF-8 -d OUT SendSms.java && java -cp OUT SendSms BASE_URL ACCESS_TOKEN NUMERO
//
// The server's answer is written to standard output as received.

import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

public class SendSms {
    // The same text as MESSAGE in tests/api/test_client_samples.py.
    private static final String MESSAGE = "Café à 5 €, crème & thé = 7 € (+1) où ?";

    public static void main(String[] args) throws Exception {
        String baseUrl = args[0].replaceAll("/$", "");
        String accessToken = args[1];
        String numero = args[2];

        String body = "accessToken=" + URLEncoder.encode(accessToken, "ISO-8859-15")
                + "&numero=" + URLEncoder.encode(numero, "ISO-8859-15")
                + "&message=" + URLEncoder.encode(MESSAGE, "ISO-8859-15");

        HttpURLConnection connection = (HttpURLConnection) URI.create(baseUrl + "/sendSMS.do").toURL().openConnection();
        connection.setRequestMethod("POST");
        connection.setDoOutput(true);
        connection.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
        try (OutputStream out = connection.getOutputStream()) {
            out.write(body.getBytes(StandardCharsets.US_ASCII));
        }
        try (InputStream in = connection.getInputStream()) {
            System.out.write(in.readAllBytes());
        }
        System.out.flush();
    }
}
