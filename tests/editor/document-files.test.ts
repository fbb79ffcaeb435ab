/**
 * Where the editor's document actions go and what they save, without a browser: the documents API
 * URL of a document on a server (with a path prefix, a name with `/`), and the file name of an export.
 */
import { describe, expect, it } from 'vitest';
import { fileName } from '../../editor/src/document-actions.js';
import { documentApiUrl, EXPORT_FORMATS } from '../../editor/src/documents-api.js';

describe('documentApiUrl', () => {
  it('puts the name in one path segment under the server, whatever form its URL takes', () => {
    expect(documentApiUrl('http://127.0.0.1:1234', 'team/notes')).toBe('http://127.0.0.1:1234/api/documents/team%2Fnotes');
    expect(documentApiUrl('https://docs.example.com/collab/', 'a')).toBe('https://docs.example.com/collab/api/documents/a');
    // The socket URL, as some apps pass it, names the same server.
    expect(documentApiUrl('wss://docs.example.com/collab/ws', 'a:b@c')).toBe('https://docs.example.com/collab/api/documents/a%3Ab%40c');
  });

  it('refuses what is not an http(s) or ws(s) URL', () => {
    expect(() => documentApiUrl('ftp://example.com', 'a')).toThrow(RangeError);
    expect(() => documentApiUrl('not a url', 'a')).toThrow(RangeError);
  });
});

describe('fileName', () => {
  it('is the document name with the format extension, path separators made dashes', () => {
    expect(fileName('team/notes', 'markdown')).toBe('team-notes.md');
    expect(fileName('a:b/c', 'html')).toBe('a-b-c.html');
    expect(fileName('notes', 'json')).toBe('notes.json');
  });

  it('never starts with a dot or dash, and is never empty', () => {
    expect(fileName('.hidden', 'markdown')).toBe('hidden.md');
    expect(fileName('..', 'json')).toBe('document.json');
    expect(fileName('/', 'html')).toBe('document.html');
  });

  it('has an extension for every export format', () => {
    for (const format of Object.keys(EXPORT_FORMATS) as (keyof typeof EXPORT_FORMATS)[]) expect(fileName('x', format)).toMatch(/^x\.\w+$/);
  });
});
