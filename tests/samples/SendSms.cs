// Sending an SMS from C# the way smsmode's sample does: the text URL-encoded in ISO-8859-15, a form POST with
// HttpClient. FormUrlEncodedContent always encodes UTF-8, so the body is built with HttpUtility.UrlEncode and
// sent as bytes; Content-Type names no charset, as a form post from smsmode's sample does not.
// Only the base URL differs from a program written for smsmode.
//
//   dotnet run -- BASE_URL ACCESS_TOKEN NUMERO    (with a console project holding this file)
//
// The server's answer is written to standard output as received.

using System.Net.Http.Headers;
using System.Text;
using System.Web;

// The same text as MESSAGE in tests/api/test_client_samples.py.
const string message = "Café à 5 €, crème & thé = 7 € (+1) où ?";

Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
var latin9 = Encoding.GetEncoding("iso-8859-15");

var baseUrl = args[0].TrimEnd('/');
var body = "accessToken=" + HttpUtility.UrlEncode(args[1], latin9)
    + "&numero=" + HttpUtility.UrlEncode(args[2], latin9)
    + "&message=" + HttpUtility.UrlEncode(message, latin9);

using var http = new HttpClient();
var content = new ByteArrayContent(Encoding.ASCII.GetBytes(body));
content.Headers.ContentType = new MediaTypeHeaderValue("application/x-www-form-urlencoded");
using var response = await http.PostAsync(baseUrl + "/sendSMS.do", content);
response.EnsureSuccessStatusCode();
var answer = await response.Content.ReadAsByteArrayAsync();
using var stdout = Console.OpenStandardOutput();
stdout.Write(answer);
