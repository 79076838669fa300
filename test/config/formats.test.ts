// Address, endpoint and route-host syntax (src/config/formats.ts).
import t from 'tap';
import { isHostAddress, isHostname, parseEndpoint, routeHostProblem } from '../../src/config/formats.js';

t.test('host names and addresses', async (t) => {
  for (const ok of ['localhost', 'example.com', 'a-b.c0.example', 'example.com.', '127.0.0.1', '::1', 'fe80::1']) {
    t.ok(isHostAddress(ok), ok);
  }
  for (const bad of ['', '-a.com', 'a-.com', 'a..b', 'under_score', '[::1]', `${'a'.repeat(64)}.com`, 'a b']) {
    t.notOk(isHostAddress(bad), JSON.stringify(bad));
  }
  t.notOk(isHostname(`${'abc.'.repeat(64)}com`), 'longer than 253');
});

t.test('endpoints', async (t) => {
  t.same(parseEndpoint('127.0.0.1:9000'), { host: '127.0.0.1', port: 9000 });
  t.same(parseEndpoint('[::1]:443'), { host: '::1', port: 443 });
  t.same(parseEndpoint('backend.svc:1'), { host: 'backend.svc', port: 1 });
  t.same(parseEndpoint('h:65535'), { host: 'h', port: 65535 });
  t.same(parseEndpoint('h:0'), { error: 'port 0 is outside 1..65535' });
  t.same(parseEndpoint('h:'), { error: "port '' is not a number 1..65535" });
  t.same(parseEndpoint(':80'), { error: "missing host before ':' in ':80'" });
  t.same(parseEndpoint('[::1'), { error: "missing ']' after the IPv6 address in '[::1'" });
  t.same(parseEndpoint('[::1]80'), { error: "expected ':port' after ']' in '[::1]80'" });
  t.same(parseEndpoint('[1.2.3.4]:80'), { error: "'1.2.3.4' is not an IPv6 address" });
  t.same(parseEndpoint('h:+80'), { error: "port '+80' is not a number 1..65535" });
});

t.test('route hosts', async (t) => {
  for (const ok of ['example.com', '*.example.com', '*.com', '10.0.0.1', '[::1]', 'localhost']) t.equal(routeHostProblem(ok), null, ok);
  t.equal(routeHostProblem('*'), "'*': '*' is only allowed as the first label ('*.example.com')");
  t.equal(routeHostProblem('*.'), "'*.' is not a valid wildcard host ('*.' followed by a host name)");
  t.equal(routeHostProblem('[nope]'), "'[nope]' is not a bracketed IPv6 address; routes match hosts without the port");
  t.equal(routeHostProblem('[::1]:80'), "'[::1]:80' is not a bracketed IPv6 address; routes match hosts without the port");
  t.equal(routeHostProblem('bad_host'), "'bad_host' is not a valid host name");
});
