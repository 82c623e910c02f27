//! `scantix upload-token --installation ID`: mints the upload token an installation's CI (one
//! without GitHub Actions OIDC) sends to the deployment's `POST /sarif`, under the deployment's
//! `SCANTIX_UPLOAD_TOKEN_SECRET` (the value, `_FILE`, or `_ARN` read from Secrets Manager). The
//! deployment stores nothing per token; rotating the secret revokes every token.

use anyhow::Context;

#[derive(clap::Args)]
pub struct UploadTokenArgs {
    /// The GitHub App installation id the token speaks for (its repositories may upload).
    #[arg(long)]
    installation: u64,
}

/// Prints the token on stdout, and nothing else (it is a secret: pipe it into the CI system's
/// secret store).
pub async fn run(args: UploadTokenArgs) -> anyhow::Result<()> {
    scantix_wiring::load_secrets()
        .await
        .context("loading secrets from Secrets Manager")?;
    let tokens = scantix_wiring::upload::upload_tokens_from_env()
        .context("the upload-token secret is the deployment's (UploadTokenSecretArn)")?;
    println!("{}", tokens.mint(args.installation).expose());
    Ok(())
}
