//! Writes SVG drawings of a few example graphs into a directory.
//!
//! ```text
//! cargo run -p chainrule --example draw_graph -- some/directory
//! ```

use std::path::PathBuf;

use chainrule::viz::svg::to_svg;
use chainrule::Graph;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: draw_graph DIRECTORY   (writes a few example drawings there as SVG)");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    let mut written = Vec::new();
    let mut save = |name: &str, svg: String| -> std::io::Result<()> {
        let path = dir.join(format!("{name}.svg"));
        std::fs::write(&path, svg)?;
        written.push(path);
        Ok(())
    };

    // The seed example: z = 3x^2 + 1 at x = 2.
    {
        let g = Graph::new();
        let x = g.var_named("x", 2.0);
        let y = x.powi(2).named("y");
        let z = (3.0 * y + 1.0).named("z");
        save("seed", to_svg(&g, z))?;
    }
    // A squared error: (w x - y)^2 at w = 1, x = 2, y = 5.
    {
        let g = Graph::new();
        let w = g.var_named("w", 1.0);
        let x = g.var_named("x", 2.0);
        let y = g.var_named("y", 5.0);
        let loss = (w * x - y).powi(2).named("loss");
        save("squared_error", to_svg(&g, loss))?;
    }
    // The same input used twice by one operation.
    {
        let g = Graph::new();
        let x = g.var_named("x", 3.0);
        save("square", to_svg(&g, x * x))?;
    }
    // micrograd's README example.
    {
        let g = Graph::new();
        let a = g.var_named("a", -4.0);
        let b = g.var_named("b", 2.0);
        let mut c = a + b;
        let mut d = a * b + b.powi(3);
        c = c + (c + 1.0);
        c = c + (1.0 + c + (-a));
        d = d + (d * 2.0 + (b + a).relu());
        d = d + (3.0 * d + (b - a).relu());
        let e = c - d;
        let f = e.powi(2);
        let mut out = f / 2.0;
        out = out + 10.0 / f;
        save("micrograd", to_svg(&g, out.named("g")))?;
    }

    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}
