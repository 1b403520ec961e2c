// A real SMTP server (npm smtp-server, from the Nodemailer project) on
// loopback for the browser tests: Kith sends patients' emails to it
// (KITH_SMTP_URL), and tests read what arrived over HTTP:
//   GET /messages -> [{ to: [addresses], from, subject, text, receivedAt }]
// It accepts any sender and recipient and keeps messages in memory only.
import { SMTPServer } from 'smtp-server';
import http from 'node:http';

const smtpPort = Number(process.env.KITH_E2E_SMTP_PORT ?? 3194);
const httpPort = Number(process.env.KITH_E2E_SMTP_HTTP_PORT ?? 3195);
const messages = [];

/** Headers (unfolded, lower-case names) and body of a raw message. */
function parse(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n[ \t]+/g, ' ');
  let body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const encoding = (headers['content-transfer-encoding'] ?? '7bit').toLowerCase();
  if (encoding === 'quoted-printable') {
    body = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
    body = Buffer.from(body, 'latin1').toString('utf8');
  } else if (encoding === 'base64') {
    body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  }
  return { headers, text: body.replace(/\r\n/g, '\n') };
}

const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      const { headers, text } = parse(Buffer.concat(chunks).toString('latin1'));
      messages.push({
        to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
        subject: headers.subject ?? '',
        text,
        receivedAt: Date.now(),
      });
      callback();
    });
  },
});
smtp.listen(smtpPort, '127.0.0.1');

http.createServer((req, res) => {
  if (req.method === 'GET' && req.url.startsWith('/messages')) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(messages));
  } else {
    res.writeHead(404);
    res.end();
  }
}).listen(httpPort, '127.0.0.1', () => console.log(`SMTP sink on ${smtpPort}, messages on http://127.0.0.1:${httpPort}/messages`));
