// Verifies every .eml of a folder with mailauth's authenticate(), DNS answered from a JSON map {name: txt}.
// Prints one line per message: "<file>\t<selector>=<result>[ (comment)],..." ; exit 0 unless the script itself failed.
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { authenticate } from 'mailauth';

const [folder, recordsFile] = process.argv.slice(2);
const records = JSON.parse(await readFile(recordsFile, 'utf8'));

// A TXT answer is a list of records, each a list of strings: serve the text in 255-byte strings, as DNS does.
const resolver = async (name, type) => {
    const text = records[name.replace(/\.$/, '').toLowerCase()];
    if (type === 'TXT' && text !== undefined) {
        const strings = [];
        for (let i = 0; i < text.length; i += 255) strings.push(text.slice(i, i + 255));
        return [strings];
    }
    const error = new Error(`no ${type} record for ${name} in the stub`);
    error.code = 'ENOTFOUND';
    throw error;
};

const files = (await readdir(folder)).filter(f => f.endsWith('.eml')).sort();
for (const file of files) {
    const message = await readFile(path.join(folder, file));
    const result = await authenticate(message, {
        resolver, ip: '127.0.0.1', helo: 'localhost', mta: 'verifier.test', sender: 'bounce@shop.example.com',
        disableArc: true, disableDmarc: true, disableBimi: true,
    });
    const rows = result.dkim.results.map(r => {
        const comment = r.status.comment ? ` (${r.status.comment})` : '';
        return `${r.selector || '-'}=${r.status.result}${comment}`;
    });
    console.log(`${file}\t${rows.join(',')}`);
}
