//! `hoist host --root ROOT call|receive ID`: the host side of a remote host, run by the
//! controller over its transport. Hidden: people never type it. The answer is always one
//! `HostResponse` line on stdout, and the exit code is the error's, as for any command.

use std::io::{Read, Write};

use crate::cli::args::{HostArgs, HostCommand};
use crate::error::{Error, Result};
use crate::hostside::file_stream;
use crate::hostside::host_call::{self, HostResponse};
use crate::hostside::layout::Layout;

pub fn exec(args: &HostArgs) -> Result<()> {
    let response = match &args.command {
        HostCommand::Call => {
            let mut input = Vec::new();
            match std::io::stdin().lock().read_to_end(&mut input) {
                Ok(_) => host_call::handle(&args.root, &input),
                Err(error) => HostResponse::from_result::<()>(Err(Error::internal(
                    "cannot read the request from stdin",
                )
                .cause(error))),
            }
        }
        HostCommand::Receive { id } => {
            let received = if args.root.is_absolute() {
                let layout = Layout::open(&args.root);
                file_stream::receive_stream(&layout, id, &mut std::io::stdin().lock())
            } else {
                Err(Error::failed(format!(
                    "the deploy root `{}` is not an absolute path",
                    args.root.display()
                )))
            };
            HostResponse::from_result(received)
        }
    };
    let mut line = serde_json::to_vec(&response)
        .map_err(|e| Error::internal("cannot encode the response").cause(e))?;
    line.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&line)
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::internal("cannot write the response").cause(e))?;
    match response {
        HostResponse::Ok(_) => Ok(()),
        // For the exit code; the controller reads the response above.
        HostResponse::Error(error) => Err(error.into()),
    }
}
