var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults().AddCremaDRunsApi();
var app = builder.Build();
app.MapDefaultEndpoints().MapCremaDRunsApi();
app.Run();
