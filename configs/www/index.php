<?php
// The default page: proof that nginx reaches php-fpm. Replace it with your
// application in the site's root (/data/www in the image; the demo's own
// directory under `make demo`): the page shows the root it was served from.
// It deliberately shows no phpinfo() and no environment dump: both leak
// secrets (database passwords, API keys).
declare(strict_types=1);

$e = static fn (string $s): string => htmlspecialchars($s, ENT_QUOTES, 'UTF-8');

// A variable exported by /data/script/script.sh or set with `docker run -e`
// reaches PHP because the pool sets clear_env = no.
$welcome = getenv('WELCOME_MESSAGE');
if ($welcome === false || $welcome === '') {
    $welcome = 'It works.';
}

// nginx's root as fastcgi_params passes it; this file's directory otherwise.
$root = (string) ($_SERVER['DOCUMENT_ROOT'] ?? '');
if ($root === '') {
    $root = __DIR__;
}
$user = function_exists('posix_geteuid') && function_exists('posix_getpwuid')
    ? (string) (posix_getpwuid(posix_geteuid())['name'] ?? posix_geteuid())
    : '';

$extensions = get_loaded_extensions();
sort($extensions, SORT_STRING | SORT_FLAG_CASE);
?>
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>phpinit</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
dt { font-weight: 600; } dd { margin: 0 0 .5rem 0; } code { background: #f3f3f3; padding: 0 .2rem; }
</style>
</head>
<body>
<h1><?= $e($welcome) ?></h1>
<p>nginx and php-fpm are running under phpinit. Put your application in <code><?= $e($root) ?></code>:
this page is <code><?= $e(__FILE__) ?></code>.</p>
<dl>
<dt>Document root</dt><dd><?= $e($root) ?></dd>
<?php if ($user !== ''): ?><dt>PHP runs as</dt><dd><?= $e($user) ?></dd>
<?php endif ?>
<dt>PHP</dt><dd><?= $e(PHP_VERSION) ?> (<?= $e(PHP_SAPI) ?>)</dd>
<dt>Host</dt><dd><?= $e((string) gethostname()) ?></dd>
<dt>Server</dt><dd><?= $e((string) ($_SERVER['SERVER_SOFTWARE'] ?? '')) ?></dd>
<dt>Time</dt><dd><?= $e(date(DATE_RFC3339)) ?></dd>
<dt>Extensions</dt><dd><?= $e(implode(', ', $extensions)) ?></dd>
</dl>
</body>
</html>
